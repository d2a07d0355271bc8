"""Runs one stage of one media file and records its outcome: the stage runner behind the worker's jobs.

The stages of a file are rows of analysis.processing_jobs; `run_stage` runs one and answers the next, so a job
that dies between two stages resumes at the first stage that has not succeeded. A run loads the file's stage rows
and stored results once, runs the stage (trove_analysis.stages), and records its outcome (the result, the stage
row, a new plan after the probe) in one transaction; the worker then queues the next stage.

Every stage result is stored under (media, stage, provider) and reused instead of recomputed, so a retried stage
never records a result or a cost twice (the cost's idempotency key is the same triple). Permanent errors (bad
media) fail the file at once; anything else is retried up to the stage's tries, then the stage goes to
analysis.dead_letters. The file is completed only once its last stage has succeeded.

Two failures count as tries without an exception to catch: a stage past its time limit (the try is recorded and
the overrun event is set, so the worker recycles its process and the stage's work really stops), and a worker that
vanished mid-stage (SIGKILL, out of memory): its row still reads `running` when the stage runs again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from trove_analysis import processing, repo, stages
from trove_analysis.deps import Deps
from trove_analysis.errors import StageRetryError
from trove_analysis.metering import Call, metered
from trove_analysis.models import StageJob
from trove_analysis.providers import LOCAL_COMPUTE
from trove_analysis.stages import Stage, StageRun
from trove_common.db import user_transaction
from trove_common.errors import NotFoundError
from trove_common.jobs import AnalyzeMediaArgs
from trove_common.metrics import JOBS_DEAD, STAGE_SECONDS
from trove_ml.errors import MediaError

logger = logging.getLogger(__name__)

VANISHED = "the worker stopped during this stage (killed, out of memory or recycled)"


@dataclass(frozen=True, slots=True)
class FileState:
    """A file's stage rows and the stored results of its stages, read together."""

    rows: list[StageJob]
    results: list[tuple[str, str, dict[str, Any]]]  # (stage, provider, result) of stored successes, oldest first

    def row(self, stage: str) -> StageJob | None:
        return next((r for r in self.rows if r.stage == stage), None)

    def stored(self, stage: str, provider: str) -> dict[str, Any] | None:
        return next((r for s, p, r in self.results if s == stage and p == provider), None)


@dataclass(slots=True)
class _Pending:
    """The stage result a try produced, to record with the try's outcome (whatever that outcome is)."""

    provider: str = ""
    result: dict[str, Any] | None = None
    error: str = ""
    started: float = 0.0


class StageRunner:
    """Runs the stages of files with the worker's providers and services."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._pool = deps.pool

    async def start(self, job: AnalyzeMediaArgs) -> bool:
        """Mark the file processing and plan its stages; False when it was deleted before analysis."""
        try:
            await self._deps.status.set_status(media_id=job.media_id, status="processing")
        except NotFoundError:
            logger.info("media was deleted before analysis", extra={"media_id": job.media_id})
            return False
        async with user_transaction(self._pool, job.user_id) as conn:
            if not await processing.jobs(conn, media_id=job.media_id):
                await processing.plan(conn, media_id=job.media_id, user_id=job.user_id, stages=stages.plan(job.kind))
        return True

    async def next_stage(self, job: AnalyzeMediaArgs) -> str | None:
        """The first stage that has not succeeded; None when all did or one failed for good."""
        async with user_transaction(self._pool, job.user_id) as conn:
            return _next_stage(await processing.jobs(conn, media_id=job.media_id))

    async def run_stage(self, job: AnalyzeMediaArgs, stage: str) -> str | None:
        """Run `stage` unless it succeeded before; returns the stage to run next (None: the file is done or failed).

        Raises StageRetryError when the stage failed transiently and has tries left.
        """
        state = await self._load(job)
        row = state.row(stage)
        if row is None or row.status in ("failed", "dead"):
            return None
        if row.status == "running" and not await self._record_try(job, stage, VANISHED, _Pending()):
            return None  # the try its vanished worker began was its last one: buried
        rows = state.rows
        if row.status != "succeeded":
            attempted = await self._attempt(job, stages.REGISTRY[stage], state)
            if attempted is None:
                return None
            rows = attempted
        if all(r.status == "succeeded" for r in rows):
            # Only once every stage is recorded as done, so a completed file never shows a stage still running; a
            # run again after this call failed (an outage) gets here again.
            await self._deps.status.set_status(media_id=job.media_id, status="completed")
        return _next_stage(rows)

    async def _load(self, job: AnalyzeMediaArgs) -> FileState:
        async with user_transaction(self._pool, job.user_id) as conn:
            rows = await processing.jobs(conn, media_id=job.media_id)
            stored = await repo.stages(conn, media_id=job.media_id)
        return FileState(
            rows=rows, results=[(s.stage, s.provider, s.result) for s in stored if s.status == "succeeded"]
        )

    async def _attempt(self, job: AnalyzeMediaArgs, stage: Stage[Any], state: FileState) -> list[StageJob] | None:
        """One try of `stage`: the file's stage rows after it succeeded, None when it failed for good."""
        async with user_transaction(self._pool, job.user_id) as conn:
            await processing.start(conn, media_id=job.media_id, stage=stage.name)
        started = time.perf_counter()
        limit_s = self._deps.retry.timeout_for(stage.name)
        deadline = asyncio.timeout(limit_s)
        pending = _Pending()
        try:
            async with deadline:
                new_plan = await self._compute(job, stage, state, pending)
        except asyncio.CancelledError:
            # The worker is stopping (SIGTERM) and hands the job back: not a try, the stage is simply queued again.
            await self._hand_back(job, stage.name)
            raise
        except MediaError as exc:
            STAGE_SECONDS.labels(stage=stage.name, outcome="bad_media").observe(time.perf_counter() - started)
            logger.warning("media cannot be analysed", extra={"media_id": job.media_id, "reason": str(exc)})
            async with user_transaction(self._pool, job.user_id) as conn:
                await _save(conn, job, stage.name, pending)
                await processing.fail(conn, media_id=job.media_id, stage=stage.name, error=str(exc), status="failed")
            await self._deps.status.set_status(media_id=job.media_id, status="failed", error=str(exc))
            return None
        except Exception as exc:  # anything but bad media is worth another try: a service down, a timeout, a bug
            STAGE_SECONDS.labels(stage=stage.name, outcome="error").observe(time.perf_counter() - started)
            if deadline.expired():
                logger.error("stage ran past its time limit", extra={"media_id": job.media_id, "stage": stage.name})
                self._deps.overrun.set()  # its work may still run in a model thread: the worker process recycles
                error = f"the {stage.name} stage ran past its time limit of {limit_s:g} s and was stopped"
            else:
                error = f"{type(exc).__name__}: {exc}"
            if tries := await self._record_try(job, stage.name, error, pending):
                raise StageRetryError(stage=stage.name, tries=tries, error=error) from exc
            return None
        took_s = time.perf_counter() - started
        STAGE_SECONDS.labels(stage=stage.name, outcome="ok").observe(took_s)
        async with user_transaction(self._pool, job.user_id) as conn:
            await _save(conn, job, stage.name, pending)
            if new_plan is not None:
                await processing.plan(conn, media_id=job.media_id, user_id=job.user_id, stages=new_plan)
            await processing.succeed(conn, media_id=job.media_id, stage=stage.name, cost_s=took_s)
            return await processing.jobs(conn, media_id=job.media_id)

    async def _compute(
        self, job: AnalyzeMediaArgs, stage: Stage[Any], state: FileState, pending: _Pending
    ) -> list[str] | None:
        """The stage's stored result, or run it and report its cost; returns the file's new plan, if it changed."""
        providers = self._deps.providers
        provider = stage.provider(providers)
        found = stages.done((s, r) for s, _, r in state.results)
        run = StageRun(
            job=job,
            path=await providers.store.local_path(job.storage_key),
            done=found,
            texts=stages.segments(found),
            facts=stages.media_facts(found, job),
            providers=providers,
            accounts=self._deps.accounts,
            index=self._deps.index,
            faces=tuple(stages.faces(found)),
        )
        stored = state.stored(stage.name, provider) if stage.reuse else None
        if stored is not None:
            result = stage.decode(stored)
        else:
            pending.provider, pending.started = provider, time.perf_counter()
            calls: list[Call] = []
            try:
                with metered() as calls:
                    result = await stage.run(run)
            except Exception as exc:
                # Cloud calls made before the failure were made (and are billed by the provider): so are they here.
                await self._bill_quietly(job, stage.name, calls)
                if isinstance(exc, MediaError):
                    pending.error = str(exc)
                raise
            if result is None:
                await self._bill_quietly(job, stage.name, calls)
                return None  # nothing to do: no result; only cloud calls, if any, cost
            if stage.reuse and not calls:  # a local model: its machine time, once per stored result
                await self._deps.accounts.record_cost(
                    key=f"{job.media_id}:{stage.name}:{provider}",
                    media_id=job.media_id,
                    stage=stage.name,
                    service=LOCAL_COMPUTE,
                    units=time.perf_counter() - pending.started,
                )
            await self._bill(job, stage.name, calls)
            pending.result = stage.encode(result)
        await stage.check(run, result)
        if (kind := stage.file_kind(result)) is not None:
            return stages.plan(kind[0], has_audio=kind[1])
        return None

    async def _bill(self, job: AnalyzeMediaArgs, stage: str, calls: list[Call]) -> None:
        """Each cloud call in the ledger at its list price, once (its key is the call's own id)."""
        for call in calls:
            await self._deps.accounts.record_cost(
                key=f"{job.media_id}:{stage}:{call.call_id}",
                media_id=job.media_id,
                stage=stage,
                service=call.service,
                units=call.units,
            )

    async def _bill_quietly(self, job: AnalyzeMediaArgs, stage: str, calls: list[Call]) -> None:
        try:
            await self._bill(job, stage, calls)
        except Exception as exc:  # the stage's own failure is the one to report
            logger.warning("could not record a failed try's provider calls", extra={"error": str(exc)})

    async def _hand_back(self, job: AnalyzeMediaArgs, stage: str) -> None:
        try:
            async with user_transaction(self._pool, job.user_id) as conn:
                await processing.mark_queued(conn, media_id=job.media_id, stage=stage)
        except Exception as exc:  # then the next run counts the interrupted try as one
            logger.warning("could not hand the stage back", extra={"media_id": job.media_id, "error": str(exc)})

    async def _record_try(self, job: AnalyzeMediaArgs, stage: str, error: str, pending: _Pending) -> int:
        """Record a failed try (and a result it computed, to reuse); the tries so far while some are left, else 0:
        the stage is buried and the file failed."""
        limit = self._deps.retry.tries_for(stage)
        async with user_transaction(self._pool, job.user_id) as conn:
            await _save(conn, job, stage, pending)
            history = await processing.fail(conn, media_id=job.media_id, stage=stage, error=error, status="queued")
            if len(history) >= limit:
                await processing.mark(conn, media_id=job.media_id, stage=stage, status="dead")
                await processing.bury(
                    conn, media_id=job.media_id, user_id=job.user_id, stage=stage, job=job.to_job(), errors=history
                )
        if len(history) < limit:
            return len(history)
        JOBS_DEAD.labels(family=stages.family(stage)).inc()
        logger.error("stage gave up", extra={"media_id": job.media_id, "stage": stage, "tries": len(history)})
        reason = f"analysis gave up after {len(history)} tries of the {stage} stage: {error}"
        try:
            await self._deps.status.set_status(media_id=job.media_id, status="failed", error=reason)
        except Exception as exc:  # the dead letter is recorded; the status follows when it is requeued
            logger.warning("could not mark the media failed", extra={"media_id": job.media_id, "error": str(exc)})
        return 0


async def _save(conn: asyncpg.Connection, job: AnalyzeMediaArgs, stage: str, pending: _Pending) -> None:
    """Store the result (or the bad-media error) a try produced, if it produced one."""
    if pending.result is None and not pending.error:
        return
    await repo.save_stage(
        conn,
        media_id=job.media_id,
        user_id=job.user_id,
        stage=stage,
        provider=pending.provider,
        status="failed" if pending.error else "succeeded",
        result=pending.result if pending.result is not None else {},
        error=pending.error,
        duration_s=time.perf_counter() - pending.started,
    )


def _next_stage(rows: list[StageJob]) -> str | None:
    for row in rows:
        if row.status in ("failed", "dead"):
            return None
        if row.status != "succeeded":
            return row.stage
    return None
