"""The image stage: what a photo shows (labels, pixels, text, faces) and its thumbnail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trove_analysis import describe
from trove_analysis.models import IndexedFace, SegmentText
from trove_analysis.stages import picture
from trove_analysis.stages.base import Stage, StageRun
from trove_analysis.stages.thumbnails import keep_thumbnail

if TYPE_CHECKING:
    from trove_analysis.deps import Providers


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageResult(picture.Picture):
    """What the vision provider saw in the photo."""


class ImageStage(Stage[ImageResult]):
    name = "image"
    family = "image"
    result_type = ImageResult

    def provider(self, providers: Providers) -> str:
        return providers.image.provider

    def applies(self, kind: str, *, has_audio: bool) -> bool:
        return kind == "image"

    async def run(self, run: StageRun) -> ImageResult:
        facts, thumbnail = await run.providers.image.analyze_image(run.path)
        result = self.decode(facts)
        await keep_thumbnail(run, thumbnail)
        return result

    def segments(self, result: ImageResult) -> list[SegmentText]:
        segments = [
            SegmentText(
                kind="image",
                start_s=0.0,
                end_s=0.0,
                text=describe.picture_text(result),
                keywords=describe.picture_keywords(result),
                image_vector=picture.image_vector(result),
                caption=describe.caption(result),
            )
        ]
        if text := picture.text_segment(result):
            segments.append(text)
        return segments

    def faces(self, result: ImageResult) -> list[IndexedFace]:
        return picture.faces(result)

    def facts(self, result: ImageResult) -> dict[str, Any]:
        return {"has_faces": bool(result.faces)}

    def view(self, result: ImageResult) -> dict[str, Any]:
        return {"picture": picture.view(result)}


IMAGE = ImageStage()
