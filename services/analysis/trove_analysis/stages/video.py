"""The video stage: the scenes of a video, what each one's keyframe shows, and a poster thumbnail."""

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
class Scene(picture.Picture):
    """A scene's span and what its keyframe shows."""

    index: int
    start_s: float
    end_s: float
    frame: int = 0  # the stored keyframe picture's number (frame_key), 0 when the provider gave none


@dataclass(frozen=True, slots=True)
class VideoResult:
    scenes: tuple[Scene, ...] = ()


class VideoStage(Stage[VideoResult]):
    name = "video"
    family = "video"
    result_type = VideoResult

    def provider(self, providers: Providers) -> str:
        return providers.video.provider

    def applies(self, kind: str, *, has_audio: bool) -> bool:
        return kind == "video"

    async def run(self, run: StageRun) -> VideoResult:
        # Bounded by the tier's duration while decoding, whatever the header told the probe.
        limit_s = await run.accounts.max_media_duration_s()
        facts, poster = await run.providers.video.analyze_video(run.path, max_duration_s=limit_s)
        frames = _take_frames(facts)
        result = self.decode(facts)
        await keep_thumbnail(run, poster, frames=frames)
        return result

    def segments(self, result: VideoResult) -> list[SegmentText]:
        segments = []
        for scene in result.scenes:
            text = describe.picture_text(scene)
            if on_screen := describe.ocr_text(scene):
                text = f"{text}; text on screen: {on_screen}"
            segments.append(
                SegmentText(
                    kind="scene",
                    start_s=scene.start_s,
                    end_s=scene.end_s,
                    text=text,
                    keywords=describe.picture_keywords(scene),
                    image_vector=picture.image_vector(scene),
                    caption=describe.caption(scene),
                    frame=scene.frame,
                )
            )
        return segments

    def faces(self, result: VideoResult) -> list[IndexedFace]:
        """Each scene's faces, with the scene's span: where in the video the person is."""
        return [face for s in result.scenes for face in picture.faces(s, start_s=s.start_s, end_s=s.end_s)]

    def facts(self, result: VideoResult) -> dict[str, Any]:
        return {"has_faces": any(scene.faces for scene in result.scenes)}

    def view(self, result: VideoResult) -> dict[str, Any]:
        return {
            "scenes": [
                {"index": s.index, "start_s": s.start_s, "end_s": s.end_s, "frame": s.frame, **picture.view(s)}
                for s in result.scenes
            ]
        }


def _take_frames(facts: dict[str, Any]) -> dict[int, bytes]:
    """Each scene's keyframe JPEG (`frame_jpeg`, bytes a provider may add), taken out of the facts before they are
    stored; the scene keeps the picture's number instead."""
    frames: dict[int, bytes] = {}
    for number, scene in enumerate(facts.get("scenes") or [], start=1):
        jpeg = scene.pop("frame_jpeg", None) if isinstance(scene, dict) else None
        if isinstance(jpeg, bytes) and jpeg:
            frames[number] = jpeg
            scene["frame"] = number
    return frames


VIDEO = VideoStage()
