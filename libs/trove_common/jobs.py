"""The ARQ wire contract between ingest (enqueues) and analysis (runs): job names, queues, arguments, encoding.

Jobs and results travel as JSON, never pickle: a payload planted in Redis can at worst be refused, not run code
when a worker reads it. Every ArqRedis pool and Worker must be given `job_serializer`/`job_deserializer`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from opentelemetry import propagate
from pydantic import SecretStr

from trove_common.context import request_id_var

logger = logging.getLogger(__name__)

ANALYZE_MEDIA = "analyze_media"
ANALYSIS_QUEUE = "trove:queue:analysis"
# ARQ queues are sorted sets scored by due time, read lowest score first: a premium job is scored this much
# earlier than its enqueue time, so every worker reads it before the standard jobs already waiting.
PREMIUM_HEAD_START_S = 6 * 3600


class JobPayloadError(ValueError):
    """A job read from Redis is not a JSON object: it is refused (ARQ records it failed), never executed."""


def _encode_other(value: Any) -> Any:
    # A failed job's result is its exception: keep its type and message, as text.
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be part of a job")


def job_serializer(value: Any) -> bytes:
    """ARQ's job (and result) encoder: compact JSON."""
    return json.dumps(value, separators=(",", ":"), default=_encode_other).encode()


def job_deserializer(data: bytes) -> Any:
    """ARQ's job (and result) decoder: JSON objects only; anything else (a pickle, say) raises JobPayloadError."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        logger.warning(
            "refused a job payload that is not a JSON object",
            extra={"payload_bytes": len(data), "payload_head": repr(bytes(data[:16]))},
        )
        raise JobPayloadError("job payload is not a JSON object")
    return value


async def connect_redis(dsn: SecretStr) -> ArqRedis:
    """An ARQ Redis pool speaking JSON jobs; the DSN carries the password (redis://:PASSWORD@host:port/0)."""
    return await create_pool(
        RedisSettings.from_dsn(dsn.get_secret_value()),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
    )


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
    filename: str = ""  # what search results show; "" in jobs queued before it was carried
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
