"""What the analysis worker holds for its jobs: typed, built once per process at start-up (replaces ARQ's ctx)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
import grpc

from trove_analysis.providers import (
    Accounts,
    Embedder,
    MediaStatus,
    ObjectStore,
    Prober,
    SegmentIndex,
    TextAnalyzer,
    Transcriber,
    VisionAnalyzer,
)
from trove_analysis.settings import Settings
from trove_common.offload import ModelExecutor


@dataclass(frozen=True, slots=True)
class Providers:
    """Each stage's provider (trove_analysis.provider_choice builds them from the settings), and the object store."""

    store: ObjectStore
    prober: Prober
    image: VisionAnalyzer
    document: VisionAnalyzer
    video: VisionAnalyzer
    transcription: Transcriber
    text: TextAnalyzer
    embedding: Embedder

    @property
    def image_model(self) -> tuple[str, int] | None:
        """The image-text space pictures' and keyframes' vectors are in (the image stage's provider's), if any."""
        return self.image.image_model


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many tries a stage gets before it goes to the dead letters, and how long one try may run."""

    max_tries: int
    per_stage: Mapping[str, int] = field(default_factory=dict)
    timeout_s: float = 1800.0
    timeout_per_stage_s: Mapping[str, float] = field(default_factory=dict)

    def tries_for(self, stage: str) -> int:
        return self.per_stage.get(stage, self.max_tries)

    def timeout_for(self, stage: str) -> float:
        """How long one try of `stage` may run before it is stopped (and counted as a try)."""
        return self.timeout_per_stage_s.get(stage, self.timeout_s)

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_tries=settings.max_tries,
            per_stage=settings.max_tries_per_stage,
            timeout_s=settings.stage_timeout_s,
            timeout_per_stage_s=settings.stage_timeouts_s,
        )


@dataclass(frozen=True, slots=True)
class Deps:
    """Everything a job of the analysis worker uses; every family pool of the process shares one."""

    settings: Settings
    pool: asyncpg.Pool
    executor: ModelExecutor
    channels: tuple[grpc.aio.Channel, ...]
    providers: Providers
    # Closes what start-up opened besides the pool and channels (the S3 client).
    resources: contextlib.AsyncExitStack
    status: MediaStatus
    index: SegmentIndex
    accounts: Accounts
    retry: RetryPolicy
    # Set when a stage ran past its time limit: the process stops its pools and exits to be restarted.
    overrun: asyncio.Event
