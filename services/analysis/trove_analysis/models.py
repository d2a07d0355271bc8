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


@dataclass(frozen=True, slots=True)
class SegmentText:
    """A segment before embedding."""

    kind: str
    start_s: float
    end_s: float
    text: str
    page: int = 0


@dataclass(frozen=True, slots=True)
class StageResult:
    stage: str
    provider: str
    status: str
    result: dict[str, Any]
    error: str
    finished_at: str
