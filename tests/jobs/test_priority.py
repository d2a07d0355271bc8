"""Premium jobs overtake a standard backlog: enqueued the way ingest and the stage jobs enqueue, read by ARQ."""

from __future__ import annotations

from typing import Any

from arq.worker import Worker, func
from pydantic import SecretStr

from trove_common.jobs import AnalyzeMediaArgs, connect_redis, enqueue_analysis, job_deserializer, job_serializer
from trove_stack.infra import Infra

QUEUE = "trove:test:priority"


def _args(n: int, priority: str) -> AnalyzeMediaArgs:
    return AnalyzeMediaArgs(
        media_id=f"m{n}", user_id="u", storage_key="k", content_type="image/png", kind="image", priority=priority
    )


async def test_a_premium_job_runs_before_twenty_queued_standard_jobs(infra: Infra) -> None:
    redis = await connect_redis(SecretStr(infra.redis_dsn))
    ran: list[str] = []

    async def record(ctx: dict[str, Any], **kwargs: Any) -> None:
        ran.append(kwargs["priority"])

    for n in range(20):
        assert await enqueue_analysis(redis, function="record", job_id=f"s{n}", queue=QUEUE, args=_args(n, "standard"))
    assert await enqueue_analysis(redis, function="record", job_id="p", queue=QUEUE, args=_args(99, "premium"))
    assert not await enqueue_analysis(redis, function="record", job_id="p", queue=QUEUE, args=_args(99, "premium"))
    worker = Worker(
        functions=[func(record, name="record")],
        queue_name=QUEUE,
        redis_pool=redis,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        burst=True,
        max_jobs=1,
        handle_signals=False,
        poll_delay=0.05,
        keep_result=0,
    )
    try:
        await worker.async_run()  # burst: returns when the queue is empty
    finally:
        await redis.aclose()
    assert ran == ["premium"] + ["standard"] * 20
