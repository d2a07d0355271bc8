"""REST response bodies: every JSON answer of /api/v1 is built through one of these models, which are also what
the OpenAPI document (trove_gateway.openapi) says the answer is, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def respond(body: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """The model as a JSON response (by alias, so the document's field names are the wire's)."""
    return JSONResponse(body.model_dump(mode="json", by_alias=True), status_code=status_code, headers=headers)


# Errors ----------------------------------------------------------------------------------------------------------


class ErrorDetail(_Out):
    code: str = Field(description="machine-readable reason, e.g. invalid_argument, not_found, rate_limited")
    message: str = Field(description="what went wrong, for people")
    request_id: str = Field(description="the X-Request-ID of the request, for support and logs")
    details: dict[str, Any] | None = Field(
        default=None, description="structured facts, e.g. retry_after_s of a 429 or the quota and usage of a 402"
    )


class ErrorBody(_Out):
    error: ErrorDetail


# Health ----------------------------------------------------------------------------------------------------------


class Health(_Out):
    status: str


class Readiness(_Out):
    status: str = Field(description="ready or not_ready")
    checks: dict[str, str] = Field(description="each backend's gRPC health status")


# Uploads and media -----------------------------------------------------------------------------------------------


class UploadTicket(_Out):
    upload_id: str
    upload_url: str = Field(description="signed URL to send the file's bytes to, with `method` and `headers`")
    method: str
    headers: dict[str, str]
    expires_at: str


class Completed(_Out):
    media_id: str
    status: str


class Media(_Out):
    media_id: str
    filename: str
    content_type: str
    kind: str = Field(description="image, video, audio or document")
    size_bytes: int
    status: str = Field(description="uploaded, processing, completed or failed")
    error: str
    created_at: str
    updated_at: str


class MediaPage(_Out):
    items: list[Media]
    next_cursor: str | None


class Label(_Out):
    name: str
    score: float


class StageProgress(_Out):
    stage: str
    status: str = Field(description="queued, running, succeeded, failed or dead")
    attempts: int
    last_error: str


class Progress(_Out):
    done: int
    total: int
    current_stage: str
    attempts: int
    stages: list[StageProgress]


class StageResult(_Out):
    stage: str
    provider: str
    status: str
    error: str
    finished_at: str


class Analysis(BaseModel):
    """What analysis saw. Besides these fields, what each stage found, by name (probe, picture, pages, scenes,
    transcript, entities, key phrases, language, ...; see the README), as further properties."""

    model_config = ConfigDict(extra="allow")

    labels: list[Label]
    description: str
    progress: Progress
    stages: list[StageResult]


class MediaDetail(Media):
    analysis: Analysis


class ContentUrl(_Out):
    url: str
    expires_at: str


# Search ----------------------------------------------------------------------------------------------------------


class Segment(_Out):
    kind: str
    start_s: float
    end_s: float
    text: str
    snippet: str = Field(
        description="what to show: a picture's caption or the text, HTML-escaped, query words in <mark>"
    )
    page: int
    frame_url: str | None = Field(
        default=None, description="a video scene's keyframe picture (JPEG) when one was stored; else null"
    )
    reason: str | None = Field(
        default=None, description='why it matched when no query word shows in the snippet ("matched: tabby cat")'
    )


class Hit(_Out):
    media_id: str
    filename: str
    kind: str
    content_type: str
    created_at: str
    taken_at: str | None
    duration_s: float | None
    thumbnail_url: str
    score: float
    segment: Segment
    moments: list[Segment]


class Understood(_Out):
    """What the query was read as: the filters its words named and the text ranked by."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kinds: list[str] = Field(description="kinds of media named in q (image, video, audio, document)")
    date_from: str | None = Field(alias="from", description="start of the date range named in q (RFC 3339)")
    date_to: str | None = Field(alias="to", description="end of the date range named in q, inclusive (RFC 3339)")
    people: list[str] = Field(description="ids of the people named in q (see /api/v1/people)")
    text: str = Field(description="the words ranked by, once the filters were taken out")
    excluded: list[str] = Field(description='words written "-word" in q: files that say one of them are left out')


class SearchResults(_Out):
    results: list[Hit]
    next_cursor: str | None
    took_ms: float
    space: str = Field(description="the embedding space that answered")
    understood: Understood | None = Field(
        default=None, description="what q was read as (searches only); date filters apply to taken, else uploaded"
    )


# People ----------------------------------------------------------------------------------------------------------


class Person(_Out):
    person_id: str
    name: str = Field(description="empty until the user names them")
    hidden: bool
    face_count: int
    cover_url: str | None = Field(description="a crop of their best face (JPEG), null when none has a picture")


class People(_Out):
    items: list[Person]


class Moment(_Out):
    start_s: float
    end_s: float


class FaceRef(_Out):
    face_id: str
    crop_url: str = Field(description="a crop of the face (JPEG)")


class PersonMediaItem(_Out):
    media_id: str
    filename: str
    kind: str
    thumbnail_url: str
    moments: list[Moment] = Field(description="the video scenes they are in; empty for a picture")
    faces: list[FaceRef] = Field(description="their faces in this file (to move one to another person)")


class PersonDetail(Person):
    media: list[PersonMediaItem]


class HistoryEntry(_Out):
    query: str
    filters: dict[str, Any]
    result_count: int
    latency_ms: float
    created_at: str


class History(_Out):
    items: list[HistoryEntry]


# Billing ---------------------------------------------------------------------------------------------------------


class TierLimits(_Out):
    max_media_duration_s: float
    max_file_bytes: int
    storage_bytes: int
    uploads_per_month: int
    processing_minutes_per_month: float
    queue_priority: str = Field(description="standard or premium")
    monthly_budget: float


class User(_Out):
    user_id: str
    email: str
    tier: str
    created_at: str
    limits: TierLimits


class Usage(_Out):
    period: str
    tier: str
    storage_bytes: int
    uploads: int
    processing_minutes: float
    cost_by_service: dict[str, float]
    spent: float
    budget: float
    budget_used: float
    budget_exhausted: bool
    currency: str
    limits: TierLimits


class LedgerEntry(_Out):
    media_id: str | None
    stage: str
    service: str
    units: float
    unit_price: float
    amount: float
    currency: str
    period: str
    created_at: str


class Ledger(_Out):
    items: list[LedgerEntry]
    next_cursor: str | None


class Alert(_Out):
    period: str
    threshold_pct: int
    spent: float
    budget: float
    currency: str
    created_at: str


class Alerts(_Out):
    items: list[Alert]


class Budget(_Out):
    user_id: str
    amount: float
    currency: str


# Admin -----------------------------------------------------------------------------------------------------------


class DeadLetterError(_Out):
    error: str
    at: str


class DeadLetter(_Out):
    job_id: str
    media_id: str
    user_id: str
    stage: str
    errors: list[DeadLetterError]
    created_at: str
    requeued_at: str | None


class DeadLetters(_Out):
    items: list[DeadLetter]


class EmbeddingSpace(_Out):
    space: str
    model: str
    dim: int
    state: str
    segments_total: int
    segments_done: int
    started_at: str | None
    finished_at: str | None
    last_error: str | None


class ReindexStatus(_Out):
    started: bool
    running: bool
    active: EmbeddingSpace
    target: EmbeddingSpace
