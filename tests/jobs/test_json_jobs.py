"""Jobs are JSON: a pickle planted in the analysis queue is refused by the real worker, never unpickled."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import time
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix

from trove_common.jobs import (
    ANALYSIS_QUEUE,
    ANALYZE_MEDIA,
    JobPayloadError,
    job_deserializer,
    job_serializer,
)
from trove_stack.infra import Infra, ServiceGroup


class _Planted:
    """Unpickling this runs `touch <marker>`: what an attacker with Redis access would plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_jobs_round_trip_as_json_and_anything_else_is_refused(tmp_path: Path) -> None:
    job = {"t": 1, "f": ANALYZE_MEDIA, "a": [], "k": {"media_id": "m", "resume": True}, "et": 1}
    encoded = job_serializer(job)
    assert json.loads(encoded) == job
    assert job_deserializer(encoded) == job
    failed = job_serializer({"s": False, "r": ValueError("boom")})
    assert json.loads(failed)["r"] == "ValueError: boom"
    marker = tmp_path / "unpickled"
    for payload in (pickle.dumps({"f": _Planted(marker)}), b"[1, 2]", b"\xff\xfe", b""):
        with pytest.raises(JobPayloadError):
            job_deserializer(payload)
    assert not marker.exists()


async def test_the_worker_refuses_a_planted_pickle_and_never_runs_it(
    infra: Infra, services: ServiceGroup, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    job_id = f"planted-{uuid.uuid4().hex}"
    payload = pickle.dumps(
        {"t": 1, "f": ANALYZE_MEDIA, "a": [_Planted(marker)], "k": {}, "et": int(time.time() * 1000)}
    )
    assert b"system" in payload and str(marker).encode() in payload
    raw = aioredis.from_url(infra.redis_dsn)
    try:
        async with raw.pipeline(transaction=True) as tx:
            tx.set(job_key_prefix + job_id, payload, px=600_000)
            tx.zadd(ANALYSIS_QUEUE, {job_id: int(time.time() * 1000)})
            await tx.execute()
        deadline = time.monotonic() + 60
        while await raw.zscore(ANALYSIS_QUEUE, job_id) is not None or await raw.exists(job_key_prefix + job_id):
            assert time.monotonic() < deadline, "the worker never picked the planted job up"
            await asyncio.sleep(0.2)
        result = await raw.get(result_key_prefix + job_id)
    finally:
        await raw.aclose()
    assert result is not None, "the refusal was not recorded"
    recorded = job_deserializer(result)
    assert recorded["s"] is False and recorded["id"] == job_id
    assert "DeserializationError" in recorded["r"]
    await asyncio.sleep(1)
    assert not marker.exists(), "the planted pickle was executed"
    log = infra.config.log_path("analysis-worker").read_text(errors="replace")
    assert f"deserializing job {job_id} failed" in log
