"""The analysis pipeline for one media file: probe, the stages of its kind, text facts, embedding (+ index, status).

The stages of a file are rows of analysis.processing_jobs; `run_stage` runs one and answers the next, so a job
that dies between two stages resumes at the first stage that has not succeeded. Every stage result is stored
under (media, stage, provider) and reused instead of recomputed, so a retried stage never records a result or a
cost twice. Permanent errors (bad media) fail the file at once; anything else is retried up to the stage's tries,
then the stage goes to analysis.dead_letters.

Two failures count as tries without an exception to catch: a stage past its time limit (the try is recorded and
`on_overrun` is called, so the worker recycles its process and the stage's work really stops), and a worker that
vanished mid-stage (SIGKILL, out of memory): its row still reads `running` when the stage runs again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_analysis import describe, processing, repo
from trove_analysis.errors import StageRetryError
from trove_analysis.metering import Call, metered
from trove_analysis.models import IndexedSegment, MediaFacts, SegmentText, StageJob
from trove_analysis.providers import (
    LOCAL_COMPUTE,
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
from trove_analysis.queues import STAGE_FAMILY
from trove_common.blobstore import thumbnail_key
from trove_common.db import user_transaction
from trove_common.errors import NotFoundError
from trove_common.jobs import AnalyzeMediaArgs
from trove_common.metrics import JOBS_DEAD, STAGE_SECONDS
from trove_ml.errors import MediaError

logger = logging.getLogger(__name__)

PROBE_PROVIDER = "local/probe/1"
KIND_STAGES: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "video": ("video", "transcription"),
    "audio": ("transcription",),
    "document": ("document",),
}


def plan(kind: str, *, has_audio: bool = True) -> list[str]:
    """The stages of a file of this kind, in order (a video without sound skips transcription)."""
    middle = [s for s in KIND_STAGES.get(kind, ()) if has_audio or kind != "video" or s != "transcription"]
    return ["probe", *middle, "text", "embedding"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many tries a stage gets before it goes to the dead letters."""

    max_tries: int
    per_stage: Mapping[str, int] = field(default_factory=dict)
    timeout_s: float = 1800.0
    timeout_per_stage_s: Mapping[str, float] = field(default_factory=dict)

    def tries_for(self, stage: str) -> int:
        return self.per_stage.get(stage, self.max_tries)

    def timeout_for(self, stage: str) -> float:
        """How long one try of `stage` may run before it is stopped (and counted as a try)."""
        return self.timeout_per_stage_s.get(stage, self.timeout_s)


VANISHED = "the worker stopped during this stage (killed, out of memory or recycled)"


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
        retry: RetryPolicy,
        on_overrun: Callable[[], None] = lambda: None,
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
        self._retry = retry
        self._on_overrun = on_overrun

    async def start(self, job: AnalyzeMediaArgs) -> bool:
        """Mark the file processing and plan its stages; False when it was deleted before analysis."""
        try:
            await self._status.set_status(media_id=job.media_id, status="processing")
        except NotFoundError:
            logger.info("media was deleted before analysis", extra={"media_id": job.media_id})
            return False
        async with user_transaction(self._pool, job.user_id) as conn:
            if not await processing.jobs(conn, media_id=job.media_id):
                await processing.plan(conn, media_id=job.media_id, user_id=job.user_id, stages=plan(job.kind))
        return True

    async def jobs(self, job: AnalyzeMediaArgs) -> list[StageJob]:
        async with user_transaction(self._pool, job.user_id) as conn:
            return await processing.jobs(conn, media_id=job.media_id)

    async def next_stage(self, job: AnalyzeMediaArgs) -> str | None:
        """The first stage that has not succeeded; None when all did or one failed for good."""
        return _next_stage(await self.jobs(job))

    async def run_stage(self, job: AnalyzeMediaArgs, stage: str) -> str | None:
        """Run `stage` unless it succeeded before; returns the stage to run next (None: the file is done or failed).

        Raises StageRetryError when the stage failed transiently and has tries left.
        """
        row = next((r for r in await self.jobs(job) if r.stage == stage), None)
        if row is None or row.status in ("failed", "dead"):
            return None
        if row.status == "running" and not await self._record_try(job, stage, VANISHED):
            return None  # the try its vanished worker began was its last one: buried
        if row.status != "succeeded" and not await self._attempt(job, stage):
            return None
        rows = await self.jobs(job)
        if all(r.status == "succeeded" for r in rows):
            # Only once every stage is recorded as done, so a completed file never shows a stage still running; a
            # run again after this call failed (an outage) gets here again.
            await self._status.set_status(media_id=job.media_id, status="completed")
        return _next_stage(rows)

    async def _attempt(self, job: AnalyzeMediaArgs, stage: str) -> bool:
        async with user_transaction(self._pool, job.user_id) as conn:
            await processing.start(conn, media_id=job.media_id, stage=stage)
        started = time.perf_counter()
        limit_s = self._retry.timeout_for(stage)
        deadline = asyncio.timeout(limit_s)
        try:
            async with deadline:
                await self._compute(job, stage)
        except asyncio.CancelledError:
            # The worker is stopping (SIGTERM) and hands the job back: not a try, the stage is simply queued again.
            await self._hand_back(job, stage)
            raise
        except MediaError as exc:
            STAGE_SECONDS.labels(stage=stage, outcome="bad_media").observe(time.perf_counter() - started)
            logger.warning("media cannot be analysed", extra={"media_id": job.media_id, "reason": str(exc)})
            async with user_transaction(self._pool, job.user_id) as conn:
                await processing.fail(conn, media_id=job.media_id, stage=stage, error=str(exc), status="failed")
            await self._status.set_status(media_id=job.media_id, status="failed", error=str(exc))
            return False
        except Exception as exc:  # anything but bad media is worth another try: a service down, a timeout, a bug
            STAGE_SECONDS.labels(stage=stage, outcome="error").observe(time.perf_counter() - started)
            if deadline.expired():
                logger.error("stage ran past its time limit", extra={"media_id": job.media_id, "stage": stage})
                self._on_overrun()  # its work may still run in a model thread: the worker process recycles
                error = f"the {stage} stage ran past its time limit of {limit_s:g} s and was stopped"
            else:
                error = f"{type(exc).__name__}: {exc}"
            await self._failed_try(job, stage, error)
            return False
        took_s = time.perf_counter() - started
        STAGE_SECONDS.labels(stage=stage, outcome="ok").observe(took_s)
        async with user_transaction(self._pool, job.user_id) as conn:
            await processing.succeed(conn, media_id=job.media_id, stage=stage, cost_s=took_s)
        return True

    async def _hand_back(self, job: AnalyzeMediaArgs, stage: str) -> None:
        try:
            async with user_transaction(self._pool, job.user_id) as conn:
                await processing.mark_queued(conn, media_id=job.media_id, stage=stage)
        except Exception as exc:  # then the next run counts the interrupted try as one
            logger.warning("could not hand the stage back", extra={"media_id": job.media_id, "error": str(exc)})

    async def _failed_try(self, job: AnalyzeMediaArgs, stage: str, error: str) -> None:
        """Record a transient failure: raise StageRetryError while tries are left, else bury the stage."""
        if tries := await self._record_try(job, stage, error):
            raise StageRetryError(stage=stage, tries=tries, error=error)

    async def _record_try(self, job: AnalyzeMediaArgs, stage: str, error: str) -> int:
        """Record a failed try; the tries so far while some are left, else 0: the stage is buried, the file failed."""
        limit = self._retry.tries_for(stage)
        async with user_transaction(self._pool, job.user_id) as conn:
            history = await processing.fail(conn, media_id=job.media_id, stage=stage, error=error, status="queued")
            if len(history) >= limit:
                await processing.mark(conn, media_id=job.media_id, stage=stage, status="dead")
                await processing.bury(
                    conn, media_id=job.media_id, user_id=job.user_id, stage=stage, job=job.to_job(), errors=history
                )
        if len(history) < limit:
            return len(history)
        JOBS_DEAD.labels(family=STAGE_FAMILY[stage]).inc()
        logger.error("stage gave up", extra={"media_id": job.media_id, "stage": stage, "tries": len(history)})
        reason = f"analysis gave up after {len(history)} tries of the {stage} stage: {error}"
        try:
            await self._status.set_status(media_id=job.media_id, status="failed", error=reason)
        except Exception as exc:  # the dead letter is recorded; the status follows when it is requeued
            logger.warning("could not mark the media failed", extra={"media_id": job.media_id, "error": str(exc)})
        return 0

    async def _compute(self, job: AnalyzeMediaArgs, stage: str) -> None:
        path = self._store.local_path(job.storage_key)
        if stage == "probe":
            await self._probe(job, path)
        elif stage in ("image", "video", "document"):
            await self._stage(job, stage, self._vision.provider, self._with_thumbnail(job, path, stage))
        elif stage == "transcription":
            # Bounded by the tier's duration while decoding, whatever the header told the probe.
            limit_s = await self._accounts.max_media_duration_s()
            await self._stage(
                job,
                stage,
                self._transcriber.provider,
                lambda: self._transcriber.transcribe(path, max_duration_s=limit_s),
            )
        elif stage == "text":
            if words := describe.spoken_and_written(await self._texts(job)):
                await self._stage(job, "text", self._text.provider, lambda: self._text.analyze(words))
        elif stage == "embedding":
            await self._embed_and_index(job)
        else:
            raise MediaError(f"unknown stage {stage!r}")

    async def _probe(self, job: AnalyzeMediaArgs, path: Path) -> None:
        probed = await self._stage(job, "probe", PROBE_PROVIDER, lambda: self._prober(path))
        await self._check_duration(probed)
        kind = probed["kind"]
        if job.kind == "video" and kind != "video":
            raise MediaError("the file was uploaded as a video but has no video stream")
        if kind not in KIND_STAGES:
            raise MediaError(f"files of kind {kind!r} cannot be analysed")
        stages = plan(kind, has_audio=bool(probed.get("has_audio")))
        async with user_transaction(self._pool, job.user_id) as conn:
            await processing.plan(conn, media_id=job.media_id, user_id=job.user_id, stages=stages)

    async def _embed_and_index(self, job: AnalyzeMediaArgs) -> None:
        texts = await self._texts(job)
        segments: list[IndexedSegment] = []
        if texts:
            started = time.perf_counter()
            vectors = await self._embedder.embed([t.text for t in texts])
            provider = f"local/{self._embedder.model_name}"
            await self._save(job, "embedding", provider, {"segments": len(texts)}, started)
            segments = [
                IndexedSegment(
                    kind=t.kind,
                    start_s=t.start_s,
                    end_s=t.end_s,
                    text=t.text,
                    vector=v,
                    page=t.page,
                    keywords=t.keywords,
                    image_vector=self._image_vector(t),
                )
                for t, v in zip(texts, vectors, strict=True)
            ]
        await self._index.index(
            media_id=job.media_id,
            model=self._embedder.model_name,
            dim=self._embedder.dim,
            segments=segments,
            facts=await self._facts(job),
            image_model=self._vision.image_model,
        )

    def _image_vector(self, text: SegmentText) -> npt.NDArray[np.float32] | None:
        """The segment's image-text vector when it is one of the configured model's (its stage ran with it)."""
        if self._vision.image_model is None or text.image_vector is None:
            return None
        vector = np.asarray(text.image_vector, dtype=np.float32)
        return vector if vector.shape == (self._vision.image_model[1],) else None

    async def _done(self, job: AnalyzeMediaArgs) -> dict[str, Facts]:
        """The stored results of the stages that succeeded, by stage."""
        async with user_transaction(self._pool, job.user_id) as conn:
            return {
                s.stage: s.result for s in await repo.stages(conn, media_id=job.media_id) if s.status == "succeeded"
            }

    async def _texts(self, job: AnalyzeMediaArgs) -> list[SegmentText]:
        """The file's segments before embedding, from the stored results of its kind's stages."""
        done = await self._done(job)
        texts: list[SegmentText] = []
        if image := done.get("image"):
            texts += describe.image_segments(image)
        if video := done.get("video"):
            texts += describe.scene_segments(video)
        if transcript := done.get("transcription"):
            texts += describe.speech_segments(transcript)
        if document := done.get("document"):
            texts += describe.page_segments(document)
        return texts

    async def _facts(self, job: AnalyzeMediaArgs) -> MediaFacts:
        """Facts about the whole file for search filters, from the stored stage results."""
        done = await self._done(job)
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

    def _with_thumbnail(self, job: AnalyzeMediaArgs, path: Path, kind: str) -> Callable[[], Awaitable[Facts]]:
        async def analyze() -> tuple[Facts, bytes]:
            if kind == "video":
                limit_s = await self._accounts.max_media_duration_s()
                return await self._vision.analyze_video(path, max_duration_s=limit_s)
            return await (self._vision.analyze_image if kind == "image" else self._vision.analyze_document)(path)

        async def run() -> Facts:
            facts, thumbnail = await analyze()
            self._store.put(thumbnail_key(job.storage_key), thumbnail)
            await self._accounts.record_derived_bytes(
                media_id=job.media_id, size_bytes=self._store.derived_bytes(job.storage_key)
            )
            return facts

        return run

    async def _check_duration(self, probed: Facts) -> None:
        duration_s = probed.get("duration_s") or 0.0
        limit_s = await self._accounts.max_media_duration_s()
        if duration_s > limit_s:
            raise MediaError(
                f"the media is {duration_s / 60:.1f} minutes long; your tier allows {limit_s / 60:.1f} minutes"
            )
        # The tier rule, judged before any costly stage: media longer than the processing minutes left is refused.
        left_s = await self._accounts.processing_s_left() if duration_s > 0 else 0.0
        if duration_s > left_s:
            raise MediaError(
                f"the media is {duration_s / 60:.1f} minutes long but only {left_s / 60:.1f} of this month's "
                "processing minutes are left; upload it again next month or ask for a larger tier"
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
            with metered() as calls:
                result = await compute()
        except MediaError as exc:
            await self._save(job, stage, provider, {}, started, error=str(exc))
            raise
        if not calls:  # a local model: its machine time
            calls = [Call(service=LOCAL_COMPUTE, units=time.perf_counter() - started, call="")]
        for i, call in enumerate(calls):  # a cloud provider: each billable call at its list price
            await self._accounts.record_cost(
                key=f"{job.media_id}:{stage}:{provider}" + (f":{i}" if i else ""),
                media_id=job.media_id,
                stage=stage,
                service=call.service,
                units=call.units,
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


def _next_stage(rows: list[StageJob]) -> str | None:
    for row in rows:
        if row.status in ("failed", "dead"):
            return None
        if row.status != "succeeded":
            return row.stage
    return None
