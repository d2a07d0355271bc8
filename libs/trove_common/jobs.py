"""The ARQ wire contract between ingest (enqueues) and analysis (runs): job names, queue names, arguments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from opentelemetry import propagate

from trove_common.context import request_id_var

ANALYZE_MEDIA = "analyze_media"
ANALYSIS_QUEUE = "trove:queue:analysis"


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
