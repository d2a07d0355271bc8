"""The ARQ wire contract between ingest (enqueues) and analysis (runs): job names, queue names, arguments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import ArqRedis
from opentelemetry import propagate

from trove_common.context import request_id_var

ANALYZE_MEDIA = "analyze_media"
ANALYSIS_QUEUE = "trove:queue:analysis"
# ARQ queues are sorted sets scored by due time, read lowest score first: a premium job is scored this much
# earlier than its enqueue time, so every worker reads it before the standard jobs already waiting.
PREMIUM_HEAD_START_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class AnalyzeMediaArgs:
    """Everything a worker needs to analyse one media file on the uploader's behalf.

    `request_id` and `traceparent` carry the upload's correlation id and trace context into the worker; the
    enqueuer fills them from its own context (see `with_context`).
    """

    media_id: str
    user_id: str
    storage_key: str
    content_type: str
    kind: str
    uploaded_at: str = ""  # RFC 3339
    priority: str = "standard"  # "premium" jobs overtake "standard" ones (the tier's queue priority)
    request_id: str = ""
    traceparent: str = ""

    def to_job(self) -> dict[str, Any]:
        return asdict(self)

    def with_context(self) -> AnalyzeMediaArgs:
        """A copy carrying the current correlation id and W3C trace context."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return replace(self, request_id=request_id_var.get(), traceparent=carrier.get("traceparent", ""))


def analyze_media_job_id(media_id: str) -> str:
    """One job per media file: ARQ refuses a second job with the same id while the first exists."""
    return f"{ANALYZE_MEDIA}:{media_id}"


async def enqueue_analysis(
    redis: ArqRedis, *, function: str, job_id: str, queue: str, args: AnalyzeMediaArgs, **extra: Any
) -> bool:
    """Enqueue an analysis job, premium ones ahead of the standard backlog; False if `job_id` is queued already."""
    due = datetime.now(UTC)
    if args.priority == "premium":
        due -= timedelta(seconds=PREMIUM_HEAD_START_S)
    job = await redis.enqueue_job(
        function, _job_id=job_id, _queue_name=queue, _defer_until=due, **args.to_job(), **extra
    )
    return job is not None
