"""The analysis pipeline for one media file: stages in order, results recorded, segments indexed, status set."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict

import asyncpg

from trove_analysis import repo
from trove_analysis.errors import MediaError
from trove_analysis.models import IndexedSegment, StageResult
from trove_analysis.providers import Embedder, ObjectStore, SegmentIndex, StatusSink, VisionAnalyzer
from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_common.jobs import AnalyzeMediaArgs

logger = logging.getLogger(__name__)


class Pipeline:
    """Runs the stages for a media file's kind. Every step is idempotent, so a retried job is harmless."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: ObjectStore,
        vision: VisionAnalyzer,
        embedder: Embedder,
        status: StatusSink,
        index: SegmentIndex,
    ) -> None:
        self._pool = pool
        self._store = store
        self._vision = vision
        self._embedder = embedder
        self._status = status
        self._index = index

    async def analyze(self, job: AnalyzeMediaArgs) -> str:
        """Analyse one file; returns its final status. MediaError ends as `failed`; other errors propagate (retry)."""
        try:
            await self._status.set_status(media_id=job.media_id, status="processing")
        except NotFoundError:
            logger.info("media was deleted before analysis", extra={"media_id": job.media_id})
            return "deleted"
        try:
            segments = await self._segments_for(job)
        except MediaError as exc:
            logger.warning("media cannot be analysed", extra={"media_id": job.media_id, "reason": str(exc)})
            await self._status.set_status(media_id=job.media_id, status="failed", error=str(exc))
            return "failed"
        if segments:
            await self._index.index(
                media_id=job.media_id, model=self._embedder.model_name, dim=self._embedder.dim, segments=segments
            )
        await self._status.set_status(media_id=job.media_id, status="completed")
        return "completed"

    async def _segments_for(self, job: AnalyzeMediaArgs) -> list[IndexedSegment]:
        if job.kind != "image":
            return []  # other kinds get their stages in later versions; they complete with nothing to search
        path = self._store.local_path(job.storage_key)
        started = time.perf_counter()
        try:
            image = await self._vision.analyze_image(path)
        except MediaError as exc:
            await self._record(job, stage="image", provider=self._vision.provider, started=started, error=str(exc))
            raise
        await self._record(job, stage="image", provider=self._vision.provider, started=started, result=asdict(image))
        started = time.perf_counter()
        vectors = await self._embedder.embed([image.description])
        await self._record(
            job,
            stage="embedding",
            provider=f"local/{self._embedder.model_name}",
            started=started,
            result={"segments": 1, "dim": self._embedder.dim},
        )
        return [IndexedSegment(kind="image", start_s=0.0, end_s=0.0, text=image.description, vector=vectors[0])]

    async def _record(
        self,
        job: AnalyzeMediaArgs,
        *,
        stage: str,
        provider: str,
        started: float,
        result: dict[str, object] | None = None,
        error: str = "",
    ) -> None:
        async with user_transaction(self._pool, job.user_id) as conn:
            await repo.save_stage(
                conn,
                media_id=job.media_id,
                user_id=job.user_id,
                stage=stage,
                provider=provider,
                status="failed" if error else "succeeded",
                result=result or {},
                error=error,
                duration_s=time.perf_counter() - started,
            )


class Analyses:
    """What the pipeline saw, for the calling user."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, *, user_id: str, media_id: str) -> list[StageResult]:
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.stages(conn, media_id=_media_uuid(media_id))

    async def delete(self, *, user_id: str, media_id: str) -> None:
        async with user_transaction(self._pool, user_id) as conn:
            await repo.delete_media(conn, media_id=_media_uuid(media_id))


def _media_uuid(media_id: str) -> str:
    try:
        return str(uuid.UUID(media_id))
    except ValueError:
        raise InvalidArgumentError("media_id must be a UUID") from None
