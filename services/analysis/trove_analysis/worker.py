"""ARQ workers: one pool per stage family, the `analyze_media` and `run_stage` jobs (each runs one stage through
trove_analysis.runner), start-up (the process's Deps) and shut-down."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq import ArqRedis, Retry
from arq.connections import RedisSettings
from arq.worker import Worker, func
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from redis.exceptions import RedisError

from trove_analysis import stages
from trove_analysis.clients import BillingAccounts, IngestMediaStatus, LocalObjectStore, SearchSegmentIndex
from trove_analysis.deps import Deps, RetryPolicy
from trove_analysis.errors import StageRetryError
from trove_analysis.lease import lease, sweep
from trove_analysis.provider_choice import BuildContext, build_providers
from trove_analysis.providers import ObjectStore
from trove_analysis.queues import RUN_STAGE, Family, family_queue, stage_job_id
from trove_analysis.runner import StageRunner
from trove_analysis.s3_objects import S3ObjectStore
from trove_analysis.settings import Settings
from trove_common.context import request_id_var, user_id_var
from trove_common.db import create_pool
from trove_common.errors import DeadlineExceededError, UnavailableError
from trove_common.grpc_client import ServiceCredential, make_channel
from trove_common.jobs import (
    ANALYSIS_QUEUE,
    ANALYZE_MEDIA,
    AnalyzeMediaArgs,
    connect_redis,
    enqueue_analysis,
    job_deserializer,
    job_serializer,
)
from trove_common.metrics import JOBS_DONE, JOBS_FAILED, JOBS_QUEUED, JOBS_RUNNING
from trove_common.objectstore import LocalObjectStorage, ObjectStorage, open_object_store
from trove_common.offload import ModelExecutor
from trove_common.outage import as_unavailable
from trove_ml import limit_torch_threads
from trove_protos.billing.v1 import billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2_grpc

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# How often a worker reads its families' queue lengths into trove_jobs_queued.
QUEUE_DEPTH_REFRESH_S = 5.0
# The span attribute carrying the upload's correlation id (the gateway and gRPC servers set the same one).
REQUEST_ID_ATTRIBUTE = "trove.request_id"

# Our own per-stage tries decide when a job is dead; ARQ's count also includes runs cut short by a killed worker.
ARQ_MAX_TRIES = 1000
# The exit status of a worker that recycled itself after a stage overran (EX_TEMPFAIL): restart me.
RECYCLE_EXIT = 75
REDIS_RETRY_S = 1.0


def backoff_s(*, tries: int, base_s: float, max_s: float) -> float:
    """Wait before the next try: base, 2x base, 4x base ... capped, plus up to 25% jitter (no thundering herd)."""
    delay = min(max_s, base_s * 2.0 ** (tries - 1))
    return delay * (1 + 0.25 * random.random())


@dataclass(frozen=True, slots=True)
class JobContext:
    """One job's view of ARQ's ctx: the process's dependencies, ARQ's Redis, the job's id and try."""

    deps: Deps
    redis: ArqRedis
    job_id: str
    job_try: int

    @classmethod
    def of(cls, ctx: Mapping[str, Any]) -> JobContext:
        """ARQ passes a dict: our `deps` (family_worker puts it there) and its own redis, job_id, job_try."""
        return cls(
            deps=ctx["deps"],
            redis=ctx["redis"],
            job_id=str(ctx.get("job_id") or ""),
            job_try=int(ctx.get("job_try") or 1),
        )


@asynccontextmanager
async def job_context(jc: JobContext, job: AnalyzeMediaArgs, span: str, stage: str) -> AsyncIterator[None]:
    """The uploader's identity, correlation id and trace for the job's logs and spans, the job's lease, and its
    counts in trove_jobs_running / _done / _failed.

    The job's span continues the trace of whoever enqueued it (ingest's CompleteUpload, or the previous stage).
    """
    request_id_var.set(job.request_id)
    user_id_var.set(job.user_id)
    parent = propagate.extract({"traceparent": job.traceparent} if job.traceparent else {})
    token = otel_context.attach(parent)
    family = stages.family(stage) if stage in stages.REGISTRY else "text"
    attributes = {"media_id": job.media_id, "stage": stage, "job_id": jc.job_id}
    JOBS_RUNNING.labels(family=family).inc()
    try:
        async with lease(jc.redis, job_id=jc.job_id, lease_s=jc.deps.settings.lease_s):
            with tracer.start_as_current_span(
                span,
                kind=trace.SpanKind.CONSUMER,
                attributes={**attributes, REQUEST_ID_ATTRIBUTE: job.request_id},
            ):
                logger.info(
                    "job started",
                    extra={
                        "job_id": jc.job_id,
                        "job_try": jc.job_try,
                        "media_id": job.media_id,
                        "kind": job.kind,
                        "stage": stage,
                    },
                )
                yield
    except BaseException:
        JOBS_FAILED.labels(family=family).inc()
        raise
    else:
        JOBS_DONE.labels(family=family).inc()
    finally:
        JOBS_RUNNING.labels(family=family).dec()
        otel_context.detach(token)


@asynccontextmanager
async def retry_outages(jc: JobContext, job: AnalyzeMediaArgs) -> AsyncIterator[None]:
    """PostgreSQL, Redis or a service away: the job runs again after a backoff (ARQ would drop a failed job).

    An outage in the middle of a stage may leave its row `running`; the next run counts that try as one.
    """
    try:
        yield
    except Retry:
        raise
    except Exception as exc:
        if as_unavailable(exc) is None and not isinstance(exc, UnavailableError | DeadlineExceededError):
            raise
        settings = jc.deps.settings
        tries = min(jc.job_try, 8)
        defer_s = backoff_s(tries=tries, base_s=settings.retry_backoff_s, max_s=settings.retry_backoff_max_s)
        logger.warning(
            "an outage interrupted the job: it runs again",
            extra={"media_id": job.media_id, "error": repr(exc), "defer_s": defer_s},
        )
        raise Retry(defer=defer_s) from exc


async def analyze_media(ctx: dict[str, Any], **kwargs: Any) -> str:
    """The job ingest enqueues: plan the file's stages, probe it, and queue its next stage."""
    jc = JobContext.of(ctx)
    job = AnalyzeMediaArgs(**kwargs)
    async with job_context(jc, job, "analyze_media", "probe"), retry_outages(jc, job):
        runner = StageRunner(jc.deps)
        if not await runner.start(job):
            return "deleted"
        stage = await runner.next_stage(job)
        if stage is None:
            return "done"
        if stage != "probe":  # a re-run after a crash: the stage after probe is queued (again) on its family
            return await _enqueue_stage(jc, job, stage, round_id="")
        return await _advance(jc, job, stage, round_id="")


async def run_stage(ctx: dict[str, Any], *, stage: str, round_id: str = "", resume: bool = False, **kwargs: Any) -> str:
    """One stage of one file on its family's queue; queues the next stage when it succeeds.

    `resume`: a requeued dead letter, whose file was marked failed; it is processing again.
    """
    jc = JobContext.of(ctx)
    job = AnalyzeMediaArgs(**kwargs)
    async with job_context(jc, job, "run_stage", stage), retry_outages(jc, job):
        if resume and not await StageRunner(jc.deps).start(job):
            return "deleted"
        return await _advance(jc, job, stage, round_id=round_id)


async def _advance(jc: JobContext, job: AnalyzeMediaArgs, stage: str, *, round_id: str) -> str:
    settings = jc.deps.settings
    try:
        following = await StageRunner(jc.deps).run_stage(job, stage)
    except StageRetryError as exc:
        defer_s = backoff_s(tries=exc.tries, base_s=settings.retry_backoff_s, max_s=settings.retry_backoff_max_s)
        logger.warning(
            "stage will be retried",
            extra={"media_id": job.media_id, "stage": stage, "error": str(exc), "defer_s": defer_s},
        )
        raise Retry(defer=defer_s) from exc
    if following is None:
        logger.info("job finished", extra={"media_id": job.media_id, "stage": stage})
        return f"{stage}: last stage"
    return await _enqueue_stage(jc, job, following, round_id=round_id)


async def _enqueue_stage(jc: JobContext, job: AnalyzeMediaArgs, stage: str, *, round_id: str) -> str:
    # The next stage's span is a child of this one: the trace runs stage after stage, not all from ingest.
    await enqueue_analysis(
        jc.redis,
        function=RUN_STAGE,
        job_id=stage_job_id(job.media_id, stage, round_id=round_id),
        queue=stages.queue(stage),
        args=job.with_context(),
        stage=stage,
        round_id=round_id,
    )
    return f"next: {stage}"


async def startup(settings: Settings, *, overrun: asyncio.Event) -> Deps:
    """Models, pools and channels, once per worker process; every family pool shares them (and the vision lock)."""
    limit_torch_threads(settings.torch_threads)
    executor = ModelExecutor(threads=settings.model_threads, name="analysis-model")
    # The worker calls as "analysis": it shares the analysis service's credential.
    credential = ServiceCredential.of("analysis", settings.service_auth)
    channels = {
        name: make_channel(addr, credential=credential)
        for name, addr in (
            ("ingest", settings.ingest_addr),
            ("search", settings.search_addr),
            ("billing", settings.billing_addr),
        )
    }
    pool: asyncpg.Pool | None = None
    resources = AsyncExitStack()
    try:
        pool = await create_pool(settings.postgres)
        # An object store that cannot be used (credentials, bucket) stops the start, naming the setting.
        storage = await resources.enter_async_context(open_object_store(settings.storage, env_prefix="TROVE_ANALYSIS_"))
        providers = build_providers(
            BuildContext(settings=settings, executor=executor), store=_object_store(settings, storage)
        )
    except BaseException:
        await resources.aclose()
        if pool is not None:
            await pool.close()
        for channel in channels.values():
            await channel.close()
        executor.shutdown(wait=False)
        raise
    return Deps(
        settings=settings,
        pool=pool,
        executor=executor,
        channels=tuple(channels.values()),
        providers=providers,
        resources=resources,
        status=IngestMediaStatus(ingest_pb2_grpc.IngestServiceStub(channels["ingest"])),
        index=SearchSegmentIndex(search_pb2_grpc.SearchServiceStub(channels["search"])),
        accounts=BillingAccounts(billing_pb2_grpc.BillingServiceStub(channels["billing"])),
        retry=RetryPolicy.of(settings),
        overrun=overrun,
    )


def _object_store(settings: Settings, storage: ObjectStorage) -> ObjectStore:
    """The stages' view of the store: local files in place, or the bucket's objects through a download cache."""
    if isinstance(storage, LocalObjectStorage):
        return LocalObjectStore(storage.blobs)
    return S3ObjectStore(
        storage=storage,
        cache_dir=settings.object_cache_dir,
        max_bytes=settings.object_cache_bytes,
        max_age_s=settings.object_cache_max_age_s,
    )


async def shutdown(deps: Deps) -> None:
    for channel in deps.channels:
        await channel.close()
    await deps.pool.close()
    await deps.resources.aclose()
    # After an overrun a model thread may never finish: don't wait for it (the process exits instead).
    deps.executor.shutdown(wait=not deps.overrun.is_set())


def family_worker(deps: Deps, family: Family) -> Worker:
    """The ARQ worker (pool) of one stage family: its own queue and concurrency, the process's shared deps."""
    settings = deps.settings
    functions = [func(run_stage, name=RUN_STAGE, max_tries=ARQ_MAX_TRIES, timeout=settings.job_timeout_s)]
    if family_queue(family) == ANALYSIS_QUEUE:
        functions.append(
            func(analyze_media, name=ANALYZE_MEDIA, max_tries=ARQ_MAX_TRIES, timeout=settings.job_timeout_s)
        )
    return Worker(
        functions=functions,
        queue_name=family_queue(family),
        redis_settings=RedisSettings.from_dsn(settings.redis.dsn.get_secret_value()),
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        ctx={"deps": deps},
        max_jobs=getattr(settings.concurrency, family),
        handle_signals=False,
        job_completion_wait=settings.shutdown_grace_s,
        poll_delay=settings.poll_delay_s,
        keep_result=3600,
    )


async def run_workers(settings: Settings) -> None:
    """One ARQ worker per configured family in this process until SIGTERM/SIGINT.

    On a signal every pool stops taking jobs and gives running ones `shutdown_grace_s` to finish; the rest are
    cancelled and handed back to their queue (ARQ re-queues a cancelled job), so nothing waits for a lease.

    A stage that ran past its time limit may still be running in a model thread, which Python cannot stop: the
    worker then stops the same way and exits with RECYCLE_EXIT, and the supervisor starts a fresh one.
    """
    overrun = asyncio.Event()
    deps = await startup(settings, overrun=overrun)
    workers = [family_worker(deps, family) for family in dict.fromkeys(settings.families)]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop_all, workers, sig)
    redis = await connect_redis(settings.redis.dsn)
    sweeper = asyncio.create_task(sweep(redis, lease_s=settings.lease_s))
    depth = asyncio.create_task(_watch_queues(redis, families=list(dict.fromkeys(settings.families))))
    recycler = asyncio.create_task(_recycle_on(overrun, workers))
    try:
        # Each pool finishes its own graceful stop: the first pool to stop must not cut the others' running jobs
        # short (a job recording its last try would be cancelled half-way, its file left `processing`).
        outcomes = await asyncio.gather(*(_serve(w) for w in workers), return_exceptions=True)
        if errors := [o for o in outcomes if isinstance(o, Exception)]:
            raise errors[0]
        logger.info("worker pools stopped")
    except asyncio.CancelledError:
        logger.info("worker pools stopped")
    finally:
        sweeper.cancel()
        depth.cancel()
        recycler.cancel()
        await redis.aclose()
        for w in workers:
            await w.close()
        await shutdown(deps)
    if overrun.is_set():
        logger.warning("worker recycled after a stage overran its time limit")
        logging.shutdown()
        os._exit(RECYCLE_EXIT)  # a stuck model thread would keep a normal exit waiting for ever


async def _serve(worker: Worker) -> None:
    """Run one pool; Redis going away (killed, restarting) pauses it instead of ending the process.

    Running jobs go on meanwhile; their results are written once Redis is back, or, if that fails, their lease
    runs out and they run again, finding their finished stages stored.
    """
    while True:
        try:
            await worker.async_run()
            return
        except (RedisError, OSError) as exc:
            if not worker.allow_pick_jobs:  # stopping (SIGTERM) anyway
                raise
            logger.warning("lost Redis: polling again shortly", extra={"queue": worker.queue_name, "error": repr(exc)})
            await asyncio.sleep(REDIS_RETRY_S)


async def _recycle_on(overrun: asyncio.Event, workers: list[Worker]) -> None:
    await overrun.wait()
    _stop_all(workers, signal.SIGTERM)


async def _watch_queues(redis: ArqRedis, *, families: list[Family]) -> None:
    """Keep trove_jobs_queued at the length of each family queue this process serves (ARQ queues are sorted sets)."""
    while True:
        for family in families:
            try:
                JOBS_QUEUED.labels(family=family).set(await redis.zcard(family_queue(family)))
            except Exception as exc:  # Redis away for a moment: the gauge keeps its last value
                logger.warning("could not read a queue length", extra={"family": family, "error": str(exc)})
        await asyncio.sleep(QUEUE_DEPTH_REFRESH_S)


def _stop_all(workers: list[Worker], sig: signal.Signals) -> None:
    for w in workers:
        w.handle_sig_wait_for_completion(sig)
