"""Trove's embeddings server (trove_ml.embed_server) on loopback, for tests: in this process, or as its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from trove_stack.config import free_ports


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port in this event loop; yields its OpenAI base URL (…/v1)."""
    port = free_ports(1)[0]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running `python -m trove_ml.embed_server`: its OpenAI base URL (…/v1), and a way to stop it early."""

    base_url: str
    child: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.child.terminate()
        try:
            self.child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


@contextlib.contextmanager
def server_process(
    *, log: Path, model_dir: Path | None = None, api_key_file: Path | None = None, throttle_first: int = 0
) -> Iterator[ServerProcess]:
    """`python -m trove_ml.embed_server` as a child process, stopped at the exit."""
    port = free_ports(1)[0]
    args = [sys.executable, "-m", "trove_ml.embed_server", "--port", str(port), "--throttle-first", str(throttle_first)]
    if model_dir is not None:
        args += ["--model-dir", str(model_dir)]
    if api_key_file is not None:
        args += ["--api-key-file", str(api_key_file)]
    headers = {"Authorization": f"Bearer {api_key_file.read_text().strip()}"} if api_key_file else {}
    with log.open("wb") as out:
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if child.poll() is not None:
                raise AssertionError(f"the embeddings server exited: {log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/models", headers=headers, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("the embeddings server did not start")
            time.sleep(0.1)
        yield ServerProcess(base_url=base_url, child=child)
    finally:
        ServerProcess(base_url=base_url, child=child).stop()
