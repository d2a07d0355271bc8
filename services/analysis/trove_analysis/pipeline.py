"""The analysis pipeline for one media file: probe, the stages of its kind, text facts, embedding, index, status.

Every stage result is stored under (media, stage, provider) before the pipeline moves on, and a stored result
is reused instead of recomputed, so a job that is retried after a crash resumes where it stopped and never
records a result or a cost twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from trove_analysis import describe, repo
from trove_analysis.models import IndexedSegment, MediaFacts, SegmentText
from trove_analysis.providers import (
    Accounts,
    Embedder,
    Facts,
    MediaStatus,
    ObjectStore,
    Prober,
    SegmentIndex,
    TextAnalyzer,
    Transcriber,
    VisionAnalyzer,
)
from trove_common.blobstore import thumbnail_key
from trove_common.db import user_transaction
from trove_common.errors import NotFoundError
from trove_common.jobs import AnalyzeMediaArgs
from trove_ml.errors import MediaError

logger = logging.getLogger(__name__)

PROBE_PROVIDER = "local/probe/1"


class Pipeline:
    """Runs the stages for a media file's kind with the configured providers."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: ObjectStore,
        prober: Prober,
        vision: VisionAnalyzer,
        transcriber: Transcriber,
        text: TextAnalyzer,
        embedder: Embedder,
        status: MediaStatus,
        index: SegmentIndex,
        accounts: Accounts,
    ) -> None:
        self._pool = pool
        self._store = store
        self._prober = prober
        self._vision = vision
        self._transcriber = transcriber
        self._text = text
        self._embedder = embedder
        self._status = status
        self._index = index
        self._accounts = accounts

    async def analyze(self, job: AnalyzeMediaArgs) -> str:
        """Analyse one file; returns its final status. Bad media ends `failed`; other errors propagate (retry)."""
        try:
            await self._status.set_status(media_id=job.media_id, status="processing")
        except NotFoundError:
            logger.info("media was deleted before analysis", extra={"media_id": job.media_id})
            return "deleted"
        try:
            segments = await self._segments(job)
            facts = await self._facts(job)
        except MediaError as exc:
            logger.warning("media cannot be analysed", extra={"media_id": job.media_id, "reason": str(exc)})
            await self._status.set_status(media_id=job.media_id, status="failed", error=str(exc))
            return "failed"
        await self._index.index(
            media_id=job.media_id,
            model=self._embedder.model_name,
            dim=self._embedder.dim,
            segments=segments,
            facts=facts,
        )
        await self._status.set_status(media_id=job.media_id, status="completed")
        return "completed"

    async def _segments(self, job: AnalyzeMediaArgs) -> list[IndexedSegment]:
        path = self._store.local_path(job.storage_key)
        probed = await self._stage(job, "probe", PROBE_PROVIDER, lambda: self._prober(path))
        await self._check_duration(probed)
        texts = await self._kind_stages(job, path, probed)
        if words := describe.spoken_and_written(texts):
            await self._stage(job, "text", self._text.provider, lambda: self._text.analyze(words))
        if not texts:
            return []
        started = time.perf_counter()
        vectors = await self._embedder.embed([t.text for t in texts])
        await self._save(job, "embedding", f"local/{self._embedder.model_name}", {"segments": len(texts)}, started)
        return [
            IndexedSegment(
                kind=t.kind, start_s=t.start_s, end_s=t.end_s, text=t.text, vector=v, page=t.page, keywords=t.keywords
            )
            for t, v in zip(texts, vectors, strict=True)
        ]

    async def _facts(self, job: AnalyzeMediaArgs) -> MediaFacts:
        """Facts about the whole file for search filters, from the stored stage results."""
        async with user_transaction(self._pool, job.user_id) as conn:
            done = {
                s.stage: s.result for s in await repo.stages(conn, media_id=job.media_id) if s.status == "succeeded"
            }
        probed = done.get("probe", {})
        pictures = done.get("image") or done.get("video") or {}
        language = done.get("text", {}).get("language") or done.get("transcription", {}).get("language", "")
        return MediaFacts(
            kind=probed.get("kind", job.kind),
            taken_at=probed.get("taken_at") or "",
            uploaded_at=job.uploaded_at,
            duration_s=probed.get("duration_s") or 0.0,
            has_faces=describe.has_faces(pictures),
            language=language,
        )

    async def _kind_stages(self, job: AnalyzeMediaArgs, path: Path, probed: Facts) -> list[SegmentText]:
        kind = probed["kind"]
        if job.kind == "video" and kind != "video":
            raise MediaError("the file was uploaded as a video but has no video stream")
        if kind == "image":
            facts = await self._stage(job, "image", self._vision.provider, self._with_thumbnail(job, path, "image"))
            return describe.image_segments(facts)
        if kind == "video":
            facts = await self._stage(job, "video", self._vision.provider, self._with_thumbnail(job, path, "video"))
            texts = describe.scene_segments(facts)
            if probed.get("has_audio"):
                texts += await self._speech(job, path)
            return texts
        if kind == "audio":
            return await self._speech(job, path)
        if kind == "document":
            facts = await self._stage(
                job, "document", self._vision.provider, self._with_thumbnail(job, path, "document")
            )
            return describe.page_segments(facts)
        raise MediaError(f"files of kind {kind!r} cannot be analysed")

    async def _speech(self, job: AnalyzeMediaArgs, path: Path) -> list[SegmentText]:
        transcript = await self._stage(
            job, "transcription", self._transcriber.provider, lambda: self._transcriber.transcribe(path)
        )
        return describe.speech_segments(transcript)

    def _with_thumbnail(self, job: AnalyzeMediaArgs, path: Path, kind: str) -> Callable[[], Awaitable[Facts]]:
        analyze = {
            "image": self._vision.analyze_image,
            "video": self._vision.analyze_video,
            "document": self._vision.analyze_document,
        }[kind]

        async def run() -> Facts:
            facts, thumbnail = await analyze(path)
            self._store.put(thumbnail_key(job.storage_key), thumbnail)
            return facts

        return run

    async def _check_duration(self, probed: Facts) -> None:
        duration_s = probed.get("duration_s") or 0.0
        limit_s = await self._accounts.max_media_duration_s()
        if duration_s > limit_s:
            raise MediaError(
                f"the media is {duration_s / 60:.1f} minutes long; your tier allows {limit_s / 60:.1f} minutes"
            )

    async def _stage(
        self, job: AnalyzeMediaArgs, stage: str, provider: str, compute: Callable[[], Awaitable[Facts]]
    ) -> Facts:
        """The stage's stored result, or compute it, report its cost and store it."""
        async with user_transaction(self._pool, job.user_id) as conn:
            stored = await repo.succeeded_result(conn, media_id=job.media_id, stage=stage, provider=provider)
        if stored is not None:
            return stored
        started = time.perf_counter()
        try:
            result = await compute()
        except MediaError as exc:
            await self._save(job, stage, provider, {}, started, error=str(exc))
            raise
        await self._accounts.record_cost(
            key=f"{job.media_id}:{stage}:{provider}",
            media_id=job.media_id,
            stage=stage,
            compute_s=time.perf_counter() - started,
        )
        await self._save(job, stage, provider, result, started)
        return result

    async def _save(
        self,
        job: AnalyzeMediaArgs,
        stage: str,
        provider: str,
        result: dict[str, Any],
        started: float,
        *,
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
                result=result,
                error=error,
                duration_s=time.perf_counter() - started,
            )
