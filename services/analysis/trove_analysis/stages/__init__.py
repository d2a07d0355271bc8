"""The stages of the analysis pipeline as typed objects, and the one registry of them.

Each module holds one stage: its name, family (queue), provider, `run` and typed result, and what that result
contributes to search and to the media detail view. `REGISTRY` lists them in pipeline order; everything that
needs "each stage" (planning, queues, segments, facts, the view) goes through it. A stage reaches its provider
through `StageRun.providers` (trove_analysis.deps.Providers, built by trove_analysis.provider_choice), decodes the
provider's JSON into its result type, and trove_analysis.runner stores `Stage.encode(result)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trove_analysis.models import IndexedFace, MediaFacts, SegmentText
from trove_analysis.queues import Family, family_queue
from trove_analysis.stages._codec import ResultShapeError
from trove_analysis.stages.base import Done, Stage, StageRun
from trove_analysis.stages.document import DOCUMENT
from trove_analysis.stages.embedding import EMBEDDING
from trove_analysis.stages.image import IMAGE
from trove_analysis.stages.probe import KINDS, PROBE
from trove_analysis.stages.text import TEXT
from trove_analysis.stages.transcription import TRANSCRIPTION
from trove_analysis.stages.video import VIDEO
from trove_common.jobs import AnalyzeMediaArgs

__all__ = [
    "KINDS",
    "REGISTRY",
    "Done",
    "ResultShapeError",
    "Stage",
    "StageRun",
    "done",
    "faces",
    "family",
    "media_facts",
    "plan",
    "queue",
    "segments",
    "view",
]

# Pipeline order: probe first, then the stages of the file's kind, text (which reads their words), embedding last.
REGISTRY: Mapping[str, Stage[Any]] = {
    s.name: s for s in (PROBE, IMAGE, DOCUMENT, VIDEO, TRANSCRIPTION, TEXT, EMBEDDING)
}


def family(stage: str) -> Family:
    """The family (queue) a stage runs on."""
    return REGISTRY[stage].family


def plan(kind: str, *, has_audio: bool = True) -> list[str]:
    """The stages of a file of this kind, in order (a video without sound skips transcription)."""
    return [s.name for s in REGISTRY.values() if s.applies(kind, has_audio=has_audio)]


def done(results: Iterable[tuple[str, Any]]) -> Done:
    """Typed results from stored (stage, JSON) pairs of stages that succeeded; a later pair of a stage wins."""
    return Done({stage: REGISTRY[stage].decode(data) for stage, data in results if stage in REGISTRY})


def segments(found: Done) -> list[SegmentText]:
    """The file's segments before embedding, from its stages' results, in pipeline order."""
    texts: list[SegmentText] = []
    for stage in REGISTRY.values():
        if (result := found.get(stage)) is not None:
            texts += stage.segments(result)
    return texts


def faces(found: Done) -> list[IndexedFace]:
    """The file's faces, for people, from its stages' results."""
    found_faces: list[IndexedFace] = []
    for stage in REGISTRY.values():
        if (result := found.get(stage)) is not None:
            found_faces += stage.faces(result)
    return found_faces


def media_facts(found: Done, job: AnalyzeMediaArgs) -> MediaFacts:
    """Facts about the whole file for search filters and results; the job's `kind` stands until the probe's result
    says otherwise."""
    fields: dict[str, Any] = {"kind": job.kind, "taken_at": "", "duration_s": 0.0, "has_faces": False, "language": ""}
    for stage in REGISTRY.values():
        if (result := found.get(stage)) is not None:
            fields |= {k: v for k, v in stage.facts(result).items() if v}
    return MediaFacts(uploaded_at=job.uploaded_at, filename=job.filename, content_type=job.content_type, **fields)


def view(found: Done) -> dict[str, Any]:
    """What the stages saw, shaped for people (GET /media/{id}): each stage's keys, in pipeline order."""
    shown: dict[str, Any] = {}
    for stage in REGISTRY.values():
        if (result := found.get(stage)) is not None:
            shown |= stage.view(result)
    return shown


def queue(stage: str) -> str:
    """The ARQ queue a stage's jobs go to: its family's."""
    return family_queue(REGISTRY[stage].family)
