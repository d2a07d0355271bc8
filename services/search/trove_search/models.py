"""Search domain types."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SEGMENT_KINDS = ("image", "scene", "speech", "text", "page")


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str
    start_s: float
    end_s: float
    text: str
    vector: npt.NDArray[np.float32]
    page: int = 0


@dataclass(frozen=True, slots=True)
class Hit:
    """The best-matching segment of one media file."""

    media_id: str
    score: float
    kind: str
    start_s: float
    end_s: float
    text: str
    page: int = 0


@dataclass(frozen=True, slots=True)
class MediaInfo:
    filename: str
    kind: str
    content_type: str
    created_at: str


def space_name(model: str, dim: int) -> str:
    """The embedding space a vector belongs to; vectors of different spaces are never compared."""
    return f"{model}/{dim}"
