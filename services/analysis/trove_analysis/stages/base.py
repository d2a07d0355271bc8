"""What every stage is: a name, a family (queue), a provider, `run` giving a typed result, and what that result
contributes to search (segments, faces, file facts) and to the media detail view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from trove_analysis.models import IndexedFace, MediaFacts, SegmentText
from trove_analysis.providers import Accounts, SegmentIndex
from trove_analysis.queues import Family
from trove_analysis.stages import _codec
from trove_common.jobs import AnalyzeMediaArgs

if TYPE_CHECKING:
    from trove_analysis.deps import Providers

R = TypeVar("R")


class Done:
    """The typed results of a file's stages that succeeded, by stage name."""

    def __init__(self, results: Mapping[str, object]) -> None:
        self._results = dict(results)

    def get(self, stage: Stage[R]) -> R | None:
        """The result `stage` recorded, if it succeeded with one."""
        result = self._results.get(stage.name)
        return result if isinstance(result, stage.result_type) else None

    def items(self) -> list[tuple[str, object]]:
        return list(self._results.items())


@dataclass(frozen=True, slots=True)
class StageRun:
    """What one run of a stage may use: the job, the file, what earlier stages found, the providers and services."""

    job: AnalyzeMediaArgs
    path: Path
    done: Done
    texts: list[SegmentText]  # the segments earlier stages contributed, in registry order
    facts: MediaFacts  # the file facts earlier stages contributed
    providers: Providers
    accounts: Accounts
    index: SegmentIndex
    faces: tuple[IndexedFace, ...] = ()  # the faces earlier stages found, for people


class Stage(Generic[R]):
    """One stage of the pipeline. Subclasses set the class attributes and override what they contribute."""

    name: str
    family: Family
    result_type: type[R]
    # A stored result of the same stage and provider is reused instead of run again, and a run is billed.
    reuse: bool = True

    def provider(self, providers: Providers) -> str:
        """The provider's name and version: part of the stored result's key, so a new provider re-runs the stage."""
        raise NotImplementedError

    def applies(self, kind: str, *, has_audio: bool) -> bool:
        """Whether files of this kind (with or without sound) go through this stage."""
        return True

    async def run(self, run: StageRun) -> R | None:
        """The stage's result; None when there was nothing to do (no result is stored)."""
        raise NotImplementedError

    async def check(self, run: StageRun, result: R) -> None:
        """Judge a (new or reused) result before the stage counts as done; MediaError refuses the file."""

    def file_kind(self, result: R) -> tuple[str, bool] | None:
        """(kind, has_audio) when this result settles what the file really is, so its stages are planned again."""
        return None

    def segments(self, result: R) -> list[SegmentText]:
        """The searchable segments this result contributes."""
        return []

    def faces(self, result: R) -> list[IndexedFace]:
        """The faces this result contributes to people (search groups them into people)."""
        return []

    def facts(self, result: R) -> dict[str, Any]:
        """The MediaFacts fields this result settles (non-empty values override earlier stages')."""
        return {}

    def view(self, result: R) -> dict[str, Any]:
        """The keys this result contributes to the media detail view (GET /media/{id})."""
        return {}

    def decode(self, data: Any) -> R:
        return _codec.decode(self.result_type, data)

    def encode(self, result: R) -> dict[str, Any]:
        encoded: dict[str, Any] = _codec.encode(result)
        return encoded
