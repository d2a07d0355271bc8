"""Ingest domain types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# blocked_budget: the owner's monthly budget is used up; the media is queued again when it is raised or renewed.
STATUSES = ("queued", "processing", "completed", "failed", "blocked_budget")


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    user_id: str
    filename: str
    content_type: str
    size_bytes: int
    storage_key: str
    expires_at: datetime
    media_id: str | None
    counted_at: datetime | None  # when billing counted the completed upload


@dataclass(frozen=True, slots=True)
class Media:
    media_id: str
    user_id: str
    filename: str
    content_type: str
    kind: str
    size_bytes: int
    storage_key: str
    status: str
    error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """What the uploader needs to send the bytes straight to storage."""

    upload_id: str
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MediaPage:
    items: list[Media]
    next_cursor: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A user's uploads that hold a quota reservation: open (started, not completed, not expired), or completed
    and not yet counted by billing."""

    uploads: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Budget:
    """What ingest needs to know of a user's billing before queueing analysis."""

    exhausted: bool
    spent: float
    amount: float
    currency: str
    queue_priority: str
