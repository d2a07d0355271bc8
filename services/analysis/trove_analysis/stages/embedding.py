"""The embedding stage: every segment's vector, then the file's segments, faces and facts replace its search index
entries.

It always runs again (its result only counts the segments); what it indexes is the file's whole state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from trove_analysis.models import IndexedSegment, SegmentText
from trove_analysis.stages.base import Stage, StageRun

if TYPE_CHECKING:
    from trove_analysis.deps import Providers


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    segments: int  # how many segments were embedded and indexed


class EmbeddingStage(Stage[EmbeddingResult]):
    name = "embedding"
    family = "embedding"
    result_type = EmbeddingResult
    reuse = False

    def provider(self, providers: Providers) -> str:
        return providers.embedding.provider

    async def run(self, run: StageRun) -> EmbeddingResult | None:
        embedder = run.providers.embedding
        image_model = run.providers.image_model
        segments: list[IndexedSegment] = []
        if run.texts:
            vectors, usage = await embedder.embed_metered([t.text for t in run.texts])
            if usage is not None:  # a paid provider's tokens; a retry's report under the same key is counted once
                await run.accounts.record_cost(
                    key=f"{run.job.media_id}:{self.name}:{embedder.provider}",
                    media_id=run.job.media_id,
                    stage=self.name,
                    service=usage.service,
                    units=usage.units,
                )
            segments = [
                IndexedSegment(
                    kind=t.kind,
                    start_s=t.start_s,
                    end_s=t.end_s,
                    text=t.text,
                    vector=v,
                    page=t.page,
                    keywords=t.keywords,
                    image_vector=_image_vector(t, image_model),
                    caption=t.caption,
                    frame=t.frame or _frame_at(run.texts, t),
                )
                for t, v in zip(run.texts, vectors, strict=True)
            ]
        await run.index.index(
            media_id=run.job.media_id,
            model=embedder.model_name,
            dim=embedder.dim,
            segments=segments,
            facts=run.facts,
            image_model=image_model,
            faces=list(run.faces),
        )
        return EmbeddingResult(segments=len(segments)) if segments else None


def _frame_at(texts: list[SegmentText], segment: SegmentText) -> int:
    """The keyframe picture of the scene a timed segment (a sentence of a video) happens in, 0 when none."""
    if segment.end_s <= 0:
        return 0
    middle = (segment.start_s + segment.end_s) / 2
    for scene in texts:
        if scene.frame and scene.start_s <= middle < scene.end_s:
            return scene.frame
    return 0


def _image_vector(text: SegmentText, image_model: tuple[str, int] | None) -> npt.NDArray[np.float32] | None:
    """The segment's image-text vector when it is one of the configured model's (its stage ran with it)."""
    if image_model is None or text.image_vector is None:
        return None
    vector = np.asarray(text.image_vector, dtype=np.float32)
    return vector if vector.shape == (image_model[1],) else None


EMBEDDING = EmbeddingStage()
