"""The probe stage: what the file really is (kind from its bytes, duration, size, codecs, EXIF), judged first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trove_analysis.stages.base import Stage, StageRun
from trove_ml.errors import MediaError

if TYPE_CHECKING:
    from trove_analysis.deps import Providers

PROVIDER = "local/probe/1"
KINDS = ("image", "video", "audio", "document")  # the kinds of file analysis knows


@dataclass(frozen=True, slots=True)
class ProbeResult:
    kind: str
    mime: str = ""
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    codecs: tuple[str, ...] = ()
    has_audio: bool = False
    has_video: bool = False
    taken_at: str | None = None  # RFC 3339, from EXIF
    gps: tuple[float, float] | None = None  # latitude, longitude
    camera: str | None = None


class ProbeStage(Stage[ProbeResult]):
    name = "probe"
    family = "text"
    result_type = ProbeResult

    def provider(self, providers: Providers) -> str:
        return PROVIDER

    async def run(self, run: StageRun) -> ProbeResult:
        return self.decode(await run.providers.prober(run.path))

    async def check(self, run: StageRun, result: ProbeResult) -> None:
        """Refuse files longer than the tier allows or than the processing minutes left, and unknown kinds."""
        duration_s = result.duration_s or 0.0
        limit_s = await run.accounts.max_media_duration_s()
        if duration_s > limit_s:
            raise MediaError(
                f"the media is {duration_s / 60:.1f} minutes long; your tier allows {limit_s / 60:.1f} minutes"
            )
        # The tier rule, judged before any costly stage: media longer than the processing minutes left is refused.
        left_s = await run.accounts.processing_s_left() if duration_s > 0 else 0.0
        if duration_s > left_s:
            raise MediaError(
                f"the media is {duration_s / 60:.1f} minutes long but only {left_s / 60:.1f} of this month's "
                "processing minutes are left; upload it again next month or ask for a larger tier"
            )
        if run.job.kind == "video" and result.kind != "video":
            raise MediaError("the file was uploaded as a video but has no video stream")
        if result.kind not in KINDS:
            raise MediaError(f"files of kind {result.kind!r} cannot be analysed")

    def file_kind(self, result: ProbeResult) -> tuple[str, bool]:
        return result.kind, result.has_audio

    def facts(self, result: ProbeResult) -> dict[str, Any]:
        return {"kind": result.kind, "taken_at": result.taken_at or "", "duration_s": result.duration_s or 0.0}

    def view(self, result: ProbeResult) -> dict[str, Any]:
        return {
            "probe": {
                "kind": result.kind,
                "mime": result.mime,
                "duration_s": result.duration_s,
                "width": result.width,
                "height": result.height,
                "codecs": list(result.codecs),
            },
            "exif": {
                "taken_at": result.taken_at,
                "gps": list(result.gps) if result.gps is not None else None,
                "camera": result.camera,
            },
        }


PROBE = ProbeStage()
