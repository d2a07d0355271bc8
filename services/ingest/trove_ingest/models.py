"""Ingest domain types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATUSES = ("queued", "processing", "completed", "failed")


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
