"""The transcription stage: what was said in an audio file or a video's sound, as timed segments and words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trove_analysis.models import SegmentText
from trove_analysis.stages.base import Stage, StageRun

if TYPE_CHECKING:
    from trove_analysis.deps import Providers


@dataclass(frozen=True, slots=True)
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float = 0.0


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptResult:
    language: str  # ISO 639-1; "" when there was no speech to tell it from
    duration_s: float  # of the audio track
    segments: tuple[SpeechSegment, ...] = ()
    language_probability: float = 0.0


class TranscriptionStage(Stage[TranscriptResult]):
    name = "transcription"
    family = "video"
    result_type = TranscriptResult

    def provider(self, providers: Providers) -> str:
        return providers.transcription.provider

    def applies(self, kind: str, *, has_audio: bool) -> bool:
        return kind == "audio" or (kind == "video" and has_audio)  # a video without sound skips it

    async def run(self, run: StageRun) -> TranscriptResult:
        # Bounded by the tier's duration while decoding, whatever the header told the probe.
        limit_s = await run.accounts.max_media_duration_s()
        return self.decode(await run.providers.transcription.transcribe(run.path, max_duration_s=limit_s))

    def segments(self, result: TranscriptResult) -> list[SegmentText]:
        return [
            SegmentText(kind="speech", start_s=s.start_s, end_s=s.end_s, text=s.text.strip())
            for s in result.segments
            if s.text.strip()
        ]

    def facts(self, result: TranscriptResult) -> dict[str, Any]:
        return {"language": result.language}

    def view(self, result: TranscriptResult) -> dict[str, Any]:
        return {
            "transcript": {
                "language": result.language,
                "duration_s": result.duration_s,
                "segments": [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text} for s in result.segments],
            }
        }


TRANSCRIPTION = TranscriptionStage()
