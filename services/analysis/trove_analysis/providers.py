"""The plug points of the pipeline: each stage talks to its provider through one of these protocols.

Results are plain JSON values (dicts of lists, strings and numbers), so a stage's result can be stored in
`analysis.stage_results` and reused on a retry instead of being computed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from trove_analysis.models import IndexedFace, IndexedSegment, MediaFacts
from trove_ml.openai_embedder import Usage

Facts = dict[str, Any]
# The billing service (a key of billing's prices) under which a stage's machine time is recorded, in seconds.
LOCAL_COMPUTE = "local-compute"


class ObjectStore(Protocol):
    async def local_path(self, key: str) -> Path:
        """A readable local file with the object's bytes (the s3 backend downloads it once into a cache)."""
        ...

    async def put(self, key: str, data: bytes) -> None: ...

    async def derived_bytes(self, key: str) -> int:
        """The bytes of the files derived from an object (its thumbnail, ...)."""
        ...


class VisionAnalyzer(Protocol):
    provider: str  # name and version: part of the stage-result key, so a new version re-runs the stage
    # The image-text model whose vectors pictures and keyframes carry (facts["image_vector"]), with its
    # dimension; None when pictures get no such vectors.
    image_model: tuple[str, int] | None

    async def analyze_image(self, path: Path) -> tuple[Facts, bytes]:
        """Facts about a picture, and a JPEG thumbnail."""
        ...

    async def analyze_video(self, path: Path, *, max_duration_s: float | None = None) -> tuple[Facts, bytes]:
        """Scenes with their spans and facts about each keyframe, and a JPEG poster; MediaError past the duration.

        A scene may carry its keyframe as a small JPEG (`frame_jpeg`: bytes); the stage stores it beside the file
        so results can show the moment that matched, and keeps it out of the stored facts."""
        ...

    async def analyze_document(self, path: Path) -> tuple[Facts, bytes]:
        """Pages with their text, and a JPEG of the first page."""
        ...


class Transcriber(Protocol):
    provider: str

    async def transcribe(self, path: Path, *, max_duration_s: float | None = None) -> Facts:
        """The speech; MediaError once the audio runs past `max_duration_s`, whatever the header says."""
        ...


class TextAnalyzer(Protocol):
    provider: str

    async def analyze(self, text: str) -> Facts: ...


class Embedder(Protocol):
    model_name: str
    dim: int

    @property
    def provider(self) -> str:
        """Recorded with the embedding stage's result: "local/<model>" or "openai/<model>/<dimension>"."""
        ...

    async def embed_metered(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], Usage | None]:
        """The vectors and, for a paid provider, what the call used (its service's units, for the ledger)."""
        ...


class Prober(Protocol):
    async def __call__(self, path: Path) -> Facts: ...


class MediaStatus(Protocol):
    """Where media status goes (ingest)."""

    async def set_status(self, *, media_id: str, status: str, error: str = "") -> None: ...


class SegmentIndex(Protocol):
    """Where searchable segments go (search)."""

    async def index(
        self,
        *,
        media_id: str,
        model: str,
        dim: int,
        segments: list[IndexedSegment],
        facts: MediaFacts,
        image_model: tuple[str, int] | None,
        faces: Sequence[IndexedFace] = (),
    ) -> None:
        """Replace the media's segments and faces; `image_model` names the space of their `image_vector`s, if any."""
        ...


class Accounts(Protocol):
    """The uploader's limits and the cost ledger (billing)."""

    async def max_media_duration_s(self) -> float: ...

    async def record_derived_bytes(self, *, media_id: str, size_bytes: int) -> None: ...

    async def processing_s_left(self) -> float:
        """Seconds of this month's processing minutes the uploader has not used yet."""
        ...

    async def record_cost(self, *, key: str, media_id: str, stage: str, service: str, units: float) -> None:
        """Add one provider call to the ledger, once per `key`: `units` of `service` (a key of billing's prices,
        e.g. local-compute seconds, openai-embeddings tokens)."""
        ...
