"""ARQ worker: the `analyze_media` job and the worker's start-up and shut-down."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grpc
from arq import Retry
from arq.connections import RedisSettings
from arq.worker import func
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from trove_analysis.clients import BillingAccounts, IngestMediaStatus, LocalObjectStore, SearchSegmentIndex
from trove_analysis.local import LocalTextAnalyzer, LocalTranscriber, LocalVisionAnalyzer, probe_file
from trove_analysis.pipeline import Pipeline
from trove_analysis.providers import Facts
from trove_analysis.settings import Settings
from trove_common.blobstore import LocalBlobStore
from trove_common.context import request_id_var, user_id_var
from trove_common.db import create_pool
from trove_common.errors import DeadlineExceededError, UnavailableError
from trove_common.grpc_client import make_channel
from trove_common.jobs import ANALYSIS_QUEUE, ANALYZE_MEDIA, AnalyzeMediaArgs
from trove_common.offload import ModelExecutor
from trove_ml import limit_torch_threads
from trove_ml.offloaded import OffloadedTextEmbedder
from trove_protos.billing.v1 import billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2_grpc

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Transient failures wait 5 s, 10 s, 20 s, ... before the next try.
BACKOFF_BASE_S = 5


async def analyze_media(ctx: dict[str, Any], **kwargs: Any) -> str:
    """Analyse one uploaded file under the uploader's identity, correlation id and trace."""
    job = AnalyzeMediaArgs(**kwargs)
    request_id_var.set(job.request_id)
    user_id_var.set(job.user_id)
    parent = propagate.extract({"traceparent": job.traceparent} if job.traceparent else {})
    token = otel_context.attach(parent)
    try:
        with tracer.start_as_current_span("analyze_media", attributes={"media_id": job.media_id}):
            logger.info(
                "job started",
                extra={
                    "job_id": ctx.get("job_id"),
                    "job_try": ctx.get("job_try"),
                    "media_id": job.media_id,
                    "kind": job.kind,
                },
            )
            try:
                outcome = await ctx["pipeline"].analyze(job)
            except (UnavailableError, DeadlineExceededError, grpc.aio.AioRpcError, OSError) as exc:
                defer_s = BACKOFF_BASE_S * 2 ** (ctx.get("job_try", 1) - 1)
                logger.warning(
                    "job will be retried",
                    extra={
                        "media_id": job.media_id,
                        "error": str(exc),
                        "defer_s": defer_s,
                        "job_try": ctx.get("job_try"),
                    },
                )
                raise Retry(defer=defer_s) from exc
            logger.info("job finished", extra={"media_id": job.media_id, "outcome": outcome})
            return str(outcome)
    finally:
        otel_context.detach(token)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    limit_torch_threads(settings.torch_threads)
    executor = ModelExecutor(threads=settings.model_threads, name="analysis-model")
    channels = {
        name: make_channel(addr)
        for name, addr in (
            ("ingest", settings.ingest_addr),
            ("search", settings.search_addr),
            ("billing", settings.billing_addr),
        )
    }
    pool = await create_pool(settings.postgres)
    ctx.update(executor=executor, channels=list(channels.values()), pool=pool)
    store = LocalBlobStore(root=settings.storage.root, signing_key=settings.storage.signing_key.get_secret_value())

    async def prober(path: Path) -> Facts:
        return await probe_file(executor, path, max_pixels=settings.max_image_pixels)

    ctx["pipeline"] = Pipeline(
        pool=pool,
        store=LocalObjectStore(store),
        prober=prober,
        vision=LocalVisionAnalyzer(
            executor=executor, wordnet_dir=settings.wordnet_dir, max_pdf_pages=settings.max_pdf_pages
        ),
        transcriber=LocalTranscriber(
            executor=executor, model_dir=settings.model_dir / "whisper-base", threads=settings.torch_threads
        ),
        text=LocalTextAnalyzer(executor=executor),
        embedder=OffloadedTextEmbedder(executor, model_dir=settings.embedder.model_dir),
        status=IngestMediaStatus(ingest_pb2_grpc.IngestServiceStub(channels["ingest"])),
        index=SearchSegmentIndex(search_pb2_grpc.SearchServiceStub(channels["search"])),
        accounts=BillingAccounts(billing_pb2_grpc.BillingServiceStub(channels["billing"])),
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    for channel in ctx.get("channels", []):
        await channel.close()
    if "pool" in ctx:
        await ctx["pool"].close()
    if "executor" in ctx:
        ctx["executor"].shutdown()


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, from our Settings."""
    return {
        "functions": [
            func(analyze_media, name=ANALYZE_MEDIA, max_tries=settings.max_tries, timeout=settings.job_timeout_s)
        ],
        "queue_name": ANALYSIS_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.redis.dsn.get_secret_value()),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_jobs": settings.worker_concurrency,
        "handle_signals": True,
        "keep_result": 3600,
    }
