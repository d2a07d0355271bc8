"""The stack's AWS simulator: moto's server behind our SigV4 gate (trove_stack.aws_gate), on loopback, with the
media bucket and its CORS rules created once it answers. Started only when the stack's storage backend is s3."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from trove_stack.config import AWS_SIM_REGION, REPO_ROOT, StackConfig
from trove_stack.process import Child, ProcessSpec, StackError
from trove_stack.secrets import Secrets

NAME = "aws"
# The browser PUTs uploads straight to the bucket and reads originals from it (presigned URLs).
CORS_METHODS = ["GET", "HEAD", "PUT"]


def write_credentials(cfg: StackConfig, secrets: Secrets) -> Path:
    """The credential pair the gate accepts, in a 0600 file (a command line would show the secret in `ps`)."""
    cfg.aws_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.aws_dir / "credentials.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key_id": secrets.aws_access_key_id, "secret_access_key": secrets.aws_secret_access_key}, f)
    os.replace(tmp, path)
    return path


def client(cfg: StackConfig, secrets: Secrets, service: str = "s3") -> Any:
    """A boto3 client of the simulator (sync: the stack's own set-up code is sync)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=cfg.aws_url,
        region_name=AWS_SIM_REGION,
        aws_access_key_id=secrets.aws_access_key_id,
        aws_secret_access_key=secrets.aws_secret_access_key,
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def answers(cfg: StackConfig, secrets: Secrets) -> bool:
    """True once the simulator answers a signed ListBuckets."""
    try:
        client(cfg, secrets).list_buckets()
    except Exception:
        return False
    return True


def create_bucket(cfg: StackConfig, secrets: Secrets, *, origins: list[str]) -> None:
    """The media bucket (kept if it exists), with CORS rules letting `origins` PUT uploads and GET originals."""
    s3 = client(cfg, secrets)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if cfg.s3_bucket not in existing:
        s3.create_bucket(Bucket=cfg.s3_bucket)
    s3.put_bucket_cors(
        Bucket=cfg.s3_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": origins,
                    "AllowedMethods": CORS_METHODS,
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )


def child(cfg: StackConfig, secrets: Secrets) -> Child:
    """The simulator process; ready once a signed call with the stack's credential succeeds."""
    credentials = write_credentials(cfg, secrets)
    spec = ProcessSpec(
        name=NAME,
        argv=(
            sys.executable,
            "-m",
            "trove_stack.aws_gate",
            "--host",
            cfg.host,
            "--port",
            str(cfg.aws_port),
            "--credentials-file",
            str(credentials),
        ),  # fmt: skip
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT / "libs"),
            "PYTHONUNBUFFERED": "1",
        },
        cwd=cfg.aws_dir,
        ready=lambda: answers(cfg, secrets),
        ready_timeout_s=60,
    )
    return Child(spec, log_path=cfg.log_path(NAME), pid_path=cfg.pid_path(NAME))


def setup_hook(cfg: StackConfig, secrets: Secrets) -> None:
    """After the simulator is ready: the bucket, open to the gateway's origin."""
    try:
        create_bucket(cfg, secrets, origins=[cfg.gateway_url])
    except Exception as exc:
        raise StackError(f"could not create the bucket {cfg.s3_bucket!r} in the AWS simulator: {exc}") from exc
