"""Analysis domain types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class IndexedSegment:
    """A searchable moment: `text` is embedded and shown; kind is image, scene, speech, text or page."""

    kind: str
    start_s: float
    end_s: float
    text: str
    vector: npt.NDArray[np.float32]
    page: int = 0
    keywords: str = ""
    image_vector: npt.NDArray[np.float32] | None = None  # a picture's vector in the image-text space
    caption: str = ""  # a short description people read in results (`text` is written for search)
    frame: int = 0  # a scene's stored keyframe picture (1-based), 0 when none


@dataclass(frozen=True, slots=True)
class IndexedFace:
    """A face for people: its box as fractions (0-1) of its picture, the scene's span (0, 0 for a photo), the face
    descriptor and a small JPEG of it."""

    box: tuple[float, float, float, float]
    score: float
    embedding: tuple[float, ...]
    start_s: float = 0.0
    end_s: float = 0.0
    crop: bytes = b""


@dataclass(frozen=True, slots=True)
class SegmentText:
    """A segment before embedding."""

    kind: str
    start_s: float
    end_s: float
    text: str
    page: int = 0
    keywords: str = ""  # extra full-text terms, not embedded or shown
    image_vector: list[float] | None = None  # what the picture looks like to the image-text model, if any
    caption: str = ""  # a short description people read in results; empty when `text` reads well
    frame: int = 0  # a scene's stored keyframe picture (1-based), 0 when none


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What searches filter and sort on, and what results show of the file."""

    kind: str
    taken_at: str
    uploaded_at: str
    duration_s: float
    has_faces: bool
    language: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class StageResult:
    stage: str
    provider: str
    status: str
    result: dict[str, Any]
    error: str
    finished_at: str


@dataclass(frozen=True, slots=True)
class StageJob:
    """One row of analysis.processing_jobs: a stage of one media file and how its tries went."""

    stage: str
    status: str  # queued, running, succeeded, failed, dead
    attempts: int
    errors: list[dict[str, Any]]
    last_error: str
    cost_s: float
    started_at: str
    finished_at: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stage that used up its tries, with every try's error."""

    dead_letter_id: str
    media_id: str
    user_id: str
    stage: str
    job: dict[str, Any]
    errors: list[dict[str, Any]]
    created_at: str
    requeued_at: str
