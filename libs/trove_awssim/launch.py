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
def running_cloud(
    *,
    log_dir: Path,
    access_key_id: str = "AKIDTROVESIMULATED01",
    region: str = "us-east-1",
    model_dir: Path | None = None,
    host: str = "127.0.0.1",
    timeout_s: float = 60.0,
) -> Iterator[Cloud]:
    """moto (S3) and the simulator on free ports until the block ends; logs go to `log_dir`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    s3_port, sim_port = free_ports(2, host)
    s3, sim = f"http://{host}:{s3_port}", f"http://{host}:{sim_port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (log_dir / "moto.log").open("ab") as log:
            moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", host, "-p", str(s3_port)], stdout=log, stderr=log, env=env
            )
        processes.append(moto)
        extra = ["--model-dir", str(model_dir)] if model_dir else []
        with (log_dir / "awssim.log").open("ab") as log:
            awssim = subprocess.Popen(
                [sys.executable, "-m", "trove_awssim", "--host", host, "--port", str(sim_port), "--s3-endpoint", s3]
                + ["--access-key-id", access_key_id, "--region", region, *extra],
                stdout=log,
                stderr=log,
                env=env,
            )
        processes.append(awssim)
        _wait(f"{s3}/moto-api/", moto, what="moto's server", timeout_s=timeout_s)
        _wait(f"{sim}/_sim/health", awssim, what="the AWS simulator", timeout_s=timeout_s)
        yield Cloud(s3=s3, sim=sim, access_key_id=access_key_id, region=region)
    finally:
        for process in processes:
            _stop(process)
