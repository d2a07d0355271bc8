"""What the stage tests share: stand-ins for billing and search behind their protocols, and a StageRun maker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trove_analysis import stages
from trove_analysis.deps import Providers
from trove_analysis.models import IndexedFace, IndexedSegment, MediaFacts
from trove_analysis.provider_choice import BuildContext, build_providers
from trove_analysis.settings import Settings
from trove_analysis.stages import StageRun
from trove_common.jobs import AnalyzeMediaArgs
from trove_common.offload import ModelExecutor


@dataclass
class Tier:
    """The billing service as the Accounts protocol sees it: limits, and what was recorded."""

    max_duration_s: float = 3600.0
    left_s: float = 3600.0
    derived: list[int] = field(default_factory=list)
    costs: list[str] = field(default_factory=list)  # idempotency keys
    units: list[tuple[str, float]] = field(default_factory=list)  # (service, units) of each recorded cost

    async def max_media_duration_s(self) -> float:
        return self.max_duration_s

    async def record_derived_bytes(self, *, media_id: str, size_bytes: int) -> None:
        self.derived.append(size_bytes)

    async def processing_s_left(self) -> float:
        return self.left_s

    async def record_cost(self, *, key: str, media_id: str, stage: str, service: str, units: float) -> None:
        self.costs.append(key)
        self.units.append((service, units))


@dataclass
class Index:
    """The search service as the SegmentIndex protocol sees it: what was indexed last."""

    calls: list[dict[str, Any]] = field(default_factory=list)

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
        self.calls.append(
            {
                "media_id": media_id,
                "model": model,
                "dim": dim,
                "segments": segments,
                "facts": facts,
                "faces": list(faces),
            }
        )


class Blobs:
    """An object store in a temporary folder (the ObjectStore protocol)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def local_path(self, key: str) -> Path:
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)

    async def derived_bytes(self, key: str) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file() and p.name != Path(key).name)


def local_providers(root: Path, executor: ModelExecutor) -> Providers:
    settings = Settings.model_validate(
        {"storage": {"root": str(root), "signing_key": "k" * 32}, "service_auth": {"token": "t" * 32}}
    )
    return build_providers(BuildContext(settings=settings, executor=executor), store=Blobs(root))


def job(kind: str, key: str = "user/media") -> AnalyzeMediaArgs:
    return AnalyzeMediaArgs(
        media_id="00000000-0000-0000-0000-000000000001",
        user_id="00000000-0000-0000-0000-000000000002",
        storage_key=key,
        content_type="application/octet-stream",
        kind=kind,
        uploaded_at="2026-01-01T00:00:00+00:00",
    )


def stage_run(
    *,
    kind: str,
    path: Path,
    providers: Providers,
    tier: Tier | None = None,
    index: Index | None = None,
    results: Mapping[str, Any] = {},
    key: str = "user/media",
) -> StageRun:
    """A run of a stage of a file whose earlier stages stored `results` (stage -> JSON)."""
    found = stages.done(results.items())
    the_job = job(kind, key)
    return StageRun(
        job=the_job,
        path=path,
        done=found,
        texts=stages.segments(found),
        facts=stages.media_facts(found, the_job),
        providers=providers,
        accounts=tier or Tier(),
        index=index or Index(),
        faces=tuple(stages.faces(found)),
    )
