"""Start the simulated cloud on loopback: moto's server for S3 and the simulator for the rest, each a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from trove_stack.config import free_ports

STOP_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class Cloud:
    """Endpoints of a running simulated cloud; `sim` answers Rekognition, Transcribe and Comprehend."""

    s3: str
    sim: str
    access_key_id: str
    region: str


def _wait(url: str, process: subprocess.Popen[bytes], *, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        with suppress(OSError):
            with urllib.request.urlopen(url, timeout=1.0):
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout_s:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_sim(
    *,
    log_dir: Path,
    s3_endpoint: str,
    access_key_id: str | None = None,
    credentials_file: Path | None = None,
    region: str = "us-east-1",
    model_dir: Path | None = None,
    host: str = "127.0.0.1",
    timeout_s: float = 60.0,
) -> Iterator[str]:
    """The simulator on a free port until the block ends, its S3 at `s3_endpoint`; yields its URL.

    `credentials_file` (JSON with access_key_id and secret_access_key) names the key it accepts and the pair it
    signs its S3 calls with, for an S3 that checks signatures (trove_stack's gate); else `access_key_id`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1, host)
    url = f"http://{host}:{port}"
    argv = [sys.executable, "-m", "trove_awssim", "--host", host, "--port", str(port), "--s3-endpoint", s3_endpoint]
    argv += ["--region", region]
    if access_key_id:
        argv += ["--access-key-id", access_key_id]
    if credentials_file:
        argv += ["--credentials-file", str(credentials_file)]
    if model_dir:
        argv += ["--model-dir", str(model_dir)]
    with (log_dir / "awssim.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait(f"{url}/_sim/health", process, what="the AWS simulator", timeout_s=timeout_s)
        yield url
    finally:
        _stop(process)


@contextmanager
def running_cloud(
    *,
    log_dir: Path,
    access_key_id: str = "AKIDTROVESIMULATED01",
    region: str = "us-east-1",
    model_dir: Path | None = None,
    host: str = "127.0.0.1",
    timeout_s: float = 60.0,
) -> Iterator[Cloud]:
    """moto's server (S3, any credentials) and the simulator on free ports until the block ends."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (s3_port,) = free_ports(1, host)
    s3 = f"http://{host}:{s3_port}"
    with (log_dir / "moto.log").open("ab") as log:
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", host, "-p", str(s3_port)],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait(f"{s3}/moto-api/", moto, what="moto's server", timeout_s=timeout_s)
        with running_sim(
            log_dir=log_dir,
            s3_endpoint=s3,
            access_key_id=access_key_id,
            region=region,
            model_dir=model_dir,
            host=host,
            timeout_s=timeout_s,
        ) as sim:
            yield Cloud(s3=s3, sim=sim, access_key_id=access_key_id, region=region)
    finally:
        _stop(moto)
