"""Analysis domain types."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    wnid: str
    score: float


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    width: int
    height: int
    labels: list[Label]
    description: str


@dataclass(frozen=True, slots=True)
class IndexedSegment:
    kind: str
    start_s: float
    end_s: float
    text: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class StageResult:
    stage: str
    provider: str
    status: str
    result: dict[str, object]
    error: str
    finished_at: str
