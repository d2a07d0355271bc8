"""Jobs/s through the whole pipeline (upload -> every stage -> completed) for a batch of small images, with a
second analysis worker process, and the same batch with that worker SIGKILLed mid-batch."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace

from media_samples import small_png
from support import Api

from trove_stack.infra import Infra
from trove_stack.process import Child
from trove_stack.services import SERVICES, service_child

BATCH = 24
EXTRA_WORKER = "analysis-worker-2"


async def _batch(api: Api, offset: int, *, kill: Child | None = None) -> float:
    """Seconds from the first upload until every file of the batch is completed; kills `kill` once all are uploaded."""
    started = time.perf_counter()
    ids = [await api.upload(small_png(offset + i), f"bench-{offset + i}.png", "image/png") for i in range(BATCH)]
    if kill is not None:
        assert kill.pid is not None
        os.kill(kill.pid, signal.SIGKILL)
    done = await asyncio.gather(*(api.wait_done(m, timeout_s=900, poll_s=0.2) for m in ids))
    assert all(d["status"] == "completed" for d in done), [d["error"] for d in done]
    return time.perf_counter() - started


def _extra_worker(infra: Infra, overrides: dict[str, str]) -> Child:
    spec = next(s for s in SERVICES if s.name == "analysis-worker")
    return service_child(replace(spec, name=EXTRA_WORKER), infra.config, infra.secrets, overrides=overrides)


async def measure(infra: Infra, api: Api, overrides: dict[str, str]) -> dict[str, object]:
    worker = _extra_worker(infra, overrides)
    worker.start()
    try:
        await asyncio.sleep(20)  # model loading
        steady_s = await _batch(api, 0)
        killed_s = await _batch(api, BATCH, kill=worker)
    finally:
        worker.stop()
    steady, killed = BATCH / steady_s, BATCH / killed_s
    return {
        "images": BATCH,
        "worker_processes": 2,
        "jobs_per_s": round(steady, 3),
        "jobs_per_s_one_worker_killed": round(killed, 3),
        "ratio_killed_to_steady": round(killed / steady, 3),
    }
