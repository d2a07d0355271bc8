"""Search domain types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

SEGMENT_KINDS = ("image", "scene", "speech", "text", "page")
MEDIA_KINDS = ("image", "video", "audio", "document")


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str
    start_s: float
    end_s: float
    text: str
    vector: npt.NDArray[np.float32]
    page: int = 0
    keywords: str = ""
    image_vector: npt.NDArray[np.float32] | None = None  # a picture in the image-text space
    caption: str = ""  # what results show instead of `text`, when set
    frame: int = 0  # a scene's stored keyframe picture (1-based), 0 when none


@dataclass(frozen=True, slots=True)
class MediaFacts:
    kind: str
    taken_at: datetime | None
    uploaded_at: datetime | None
    duration_s: float | None
    has_faces: bool
    language: str
    filename: str = ""  # what results show of the file; "" from a caller that did not say
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Filters:
    kinds: tuple[str, ...] = ()
    date_field: str = "uploaded"  # "taken", "uploaded" or "any" (taken, else uploaded: dates read from a query)
    date_from: datetime | None = None
    date_to: datetime | None = None
    has_faces: bool | None = None
    language: str = ""
    people: tuple[str, ...] = ()  # person ids: media showing one of them (a video: only the moments they are in)
    excluded: tuple[str, ...] = ()  # words no kept file may contain in any segment ("-word" in a query)

    def as_json(self) -> dict[str, object]:
        """The filters a user set, for search history."""
        out: dict[str, object] = {}
        if self.kinds:
            out["kinds"] = list(self.kinds)
        if self.date_from or self.date_to:
            out["date_field"] = self.date_field
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        if self.has_faces is not None:
            out["has_faces"] = self.has_faces
        if self.language:
            out["language"] = self.language
        if self.people:
            out["people"] = list(self.people)
        if self.excluded:
            out["excluded"] = list(self.excluded)
        return out


NO_FILTERS = Filters()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One segment found by vector or full-text retrieval, with its media's facts."""

    segment_id: int
    media_id: str
    kind: str
    start_s: float
    end_s: float
    text: str
    page: int
    taken_at: datetime | None
    uploaded_at: datetime | None
    duration_s: float | None
    similarity: float = 0.0  # cosine similarity to the query, 0 when not computed
    text_rank: float = 0.0  # full-text rank, 0 when the text does not match
    text_coverage: float = 0.0  # share of the query's words the text contains, 0-1
    image_match: float = 0.0  # how well the picture fits the query per the image-text model, 0-1; 0 when none
    caption: str = ""  # what results show instead of `text`, when set
    frame: int = 0
    keywords: str = ""  # the segment's extra full-text terms, to say which of them matched
    media_kind: str = ""  # the file's kind (image, video, audio, document); `kind` is the segment's
    filename: str = ""  # "" for a file indexed before file names were kept
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class Moment:
    kind: str
    start_s: float
    end_s: float
    text: str
    snippet: str
    page: int
    frame: int = 0  # the scene's stored keyframe picture, 0 when none
    reason: str = ""  # why it matched when none of the query's words did; "" otherwise
    # What it matched with (see Candidate): snippet and reason are written from these only for the page shown.
    caption: str = ""
    keywords: str = ""
    similarity: float = 0.0
    text_rank: float = 0.0
    image_match: float = 0.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One media file in the results: its best moment first, then other matching moments."""

    media_id: str
    score: float
    best: Moment
    moments: list[Moment] = field(default_factory=list)
    taken_at: datetime | None = None
    uploaded_at: datetime | None = None
    duration_s: float | None = None
    media_kind: str = ""  # what results show of the file, kept by search (see Candidate)
    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    filename: str
    kind: str
    content_type: str
    created_at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    query: str
    filters: dict[str, object]
    result_count: int
    latency_ms: float
    created_at: datetime | None = None


def space_name(model: str, dim: int) -> str:
    """The embedding space a vector belongs to; vectors of different spaces are never compared."""
    return f"{model}/{dim}"


@dataclass(frozen=True, slots=True)
class Space:
    """One embedding space as recorded in search.embedding_spaces, with its re-index progress."""

    space: str
    model: str
    dim: int
    model_dir: str | None
    state: str  # active | building | inactive
    segments_total: int = 0
    segments_done: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str = ""
    source: str | None = (
        None  # JSON: how to rebuild a non-local embedder (migration 005_space_source); None for local models
    )


FACE_DIM = 128  # dlib's face descriptor


@dataclass(frozen=True, slots=True)
class Face:
    """A face found in a picture or a video scene, as analysis sends it."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the picture or frame
    score: float
    embedding: npt.NDArray[np.float32]
    start_s: float = 0.0
    end_s: float = 0.0
    crop: bytes = b""  # a small JPEG of the face


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    name: str
    hidden: bool
    face_count: int
    cover_face_id: str


@dataclass(frozen=True, slots=True)
class PersonMedia:
    """One media file a person is in: the video moments they appear in, and their faces there."""

    media_id: str
    kind: str
    moments: list[tuple[float, float]]
    face_ids: list[str]
    filename: str = ""


@dataclass(frozen=True, slots=True)
class ClusterReport:
    assigned: int = 0  # faces that joined a person
    created: int = 0  # new people
