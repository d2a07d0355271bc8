"""The stack's simulated cloud providers: trove_awssim (Rekognition, Transcribe, Comprehend answered by the local
models, reading and writing the AWS simulator's S3) and Trove's embedder behind OpenAI's /v1/embeddings.

Started with the AWS simulator (trove_stack.aws_sim) when the stack runs its stages on cloud providers
(`cloud_providers`, TROVE_STACK_CLOUD_PROVIDERS=1, as `make run-aws-sim` sets); service_env then points every
stage of analysis, and search's query embedder, at them.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from contextlib import suppress

from trove_stack import aws_sim
from trove_stack.config import AWS_SIM_REGION, REPO_ROOT, StackConfig
from trove_stack.process import Child, ProcessSpec, StackError
from trove_stack.secrets import Secrets

AWSSIM = "awssim"
EMBED = "embed"
# The bucket Transcribe reads staged media from and writes its transcripts to.
TRANSCRIBE_BUCKET = "trove-transcribe"
# The embeddings server serves the built-in sentence embedder under this name (trove_ml.text_embedder).
EMBED_MODEL = "all-MiniLM-L6-v2"
# The stages that run on AWS; documents stay local (see trove_analysis.aws.rekognition).
AWS_STAGES = ("image", "video", "transcription", "text")


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("libs",)),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def _answers(url: str) -> bool:
    with suppress(OSError):
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    return False


def awssim_child(cfg: StackConfig, secrets: Secrets) -> Child:
    """trove_awssim on `awssim_port`, accepting the stack's AWS credential and using it with the S3 simulator."""
    credentials = aws_sim.write_credentials(cfg, secrets)
    argv = (
        *(sys.executable, "-m", "trove_awssim", "--host", cfg.host, "--port", str(cfg.awssim_port)),
        *("--s3-endpoint", cfg.aws_url, "--credentials-file", str(credentials), "--region", AWS_SIM_REGION),
    )
    spec = ProcessSpec(
        name=AWSSIM,
        argv=argv,
        env=_env(),
        cwd=cfg.aws_dir,
        ready=lambda: _answers(f"{cfg.awssim_url}/_sim/health"),
        ready_timeout_s=60,
    )
    return Child(spec, log_path=cfg.log_path(AWSSIM), pid_path=cfg.pid_path(AWSSIM))


def embed_child(cfg: StackConfig) -> Child:
    """Trove's embeddings server on `embed_port` (OpenAI's protocol, no key: loopback only)."""
    argv = (sys.executable, "-m", "trove_ml.embed_server", "--host", cfg.host, "--port", str(cfg.embed_port))
    spec = ProcessSpec(
        name=EMBED,
        argv=argv,
        env=_env(),
        cwd=cfg.aws_dir,
        ready=lambda: _answers(f"{cfg.embed_url}/models"),
        ready_timeout_s=120,
    )
    return Child(spec, log_path=cfg.log_path(EMBED), pid_path=cfg.pid_path(EMBED))


def setup_hook(cfg: StackConfig, secrets: Secrets) -> None:
    """After the S3 simulator is ready: the bucket Transcribe works through."""
    try:
        s3 = aws_sim.client(cfg, secrets)
        if TRANSCRIBE_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=TRANSCRIBE_BUCKET)
    except Exception as exc:
        raise StackError(f"could not create the bucket {TRANSCRIBE_BUCKET!r} in the AWS simulator: {exc}") from exc


def provider_env(cfg: StackConfig, secrets: Secrets) -> dict[str, dict[str, str]]:
    """Analysis' stages on AWS (the simulator) and the sentence embedder on the OpenAI-compatible server."""
    p = "TROVE_ANALYSIS_"
    analysis = {f"{p}PROVIDERS__{stage.upper()}": "aws" for stage in AWS_STAGES}
    analysis |= {f"{p}AWS__ENDPOINTS__{name}": cfg.awssim_url for name in ("REKOGNITION", "TRANSCRIBE", "COMPREHEND")}
    analysis |= {
        f"{p}AWS__ENDPOINTS__S3": cfg.aws_url,
        f"{p}AWS__REGION": AWS_SIM_REGION,
        f"{p}AWS__ACCESS_KEY_ID": secrets.aws_access_key_id,
        f"{p}AWS__SECRET_ACCESS_KEY": secrets.aws_secret_access_key,
        f"{p}AWS__STAGING_BUCKET": TRANSCRIBE_BUCKET,
        # The simulator's label confidences are the local classifier's probabilities, not Rekognition's scale.
        f"{p}AWS__MIN_LABEL_CONFIDENCE": "1",
        f"{p}AWS__TRANSCRIBE_POLL_S": "0.5",
        f"{p}AWS__TRANSCRIBE_POLL_MAX_S": "3",
    }
    embedder = {"PROVIDER": "openai", "BASE_URL": cfg.embed_url, "MODEL": EMBED_MODEL, "API_KEY": "loopback"}
    env: dict[str, dict[str, str]] = {"analysis": analysis, "search": {}}
    for svc in ("analysis", "search"):
        env[svc] |= {f"TROVE_{svc.upper()}_EMBEDDER__{name}": value for name, value in embedder.items()}
    return env
