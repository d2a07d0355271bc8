"""The plug points of the pipeline: each stage talks to a provider through one of these protocols."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from trove_analysis.models import ImageAnalysis, IndexedSegment


class ObjectStore(Protocol):
    def local_path(self, key: str) -> Path:
        """A readable local file with the object's bytes."""
        ...


class VisionAnalyzer(Protocol):
    provider: str  # name and version; part of the stage result key

    async def analyze_image(self, path: Path) -> ImageAnalysis: ...


class Embedder(Protocol):
    model_name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class StatusSink(Protocol):
    """Where media status goes (ingest)."""

    async def set_status(self, *, media_id: str, status: str, error: str = "") -> None: ...


class SegmentIndex(Protocol):
    """Where searchable segments go (search)."""

    async def index(self, *, media_id: str, model: str, dim: int, segments: list[IndexedSegment]) -> None: ...
