"""Entry point: python -m trove_ingest.main."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from arq import ArqRedis

from trove_common.grpc_client import ServiceCredential, make_channel
from trove_common.grpc_server import serve
from trove_common.jobs import (
    ANALYSIS_QUEUE,
    ANALYZE_MEDIA,
    AnalyzeMediaArgs,
    analyze_media_job_id,
    connect_redis,
    enqueue_analysis,
)
from trove_common.objectstore import ObjectStorage, StorageConfigError, open_object_store
from trove_common.service import open_database, start_process
from trove_ingest.accounts import BillingAccounts
from trove_ingest.ingest import Enqueue, Ingest
from trove_ingest.server import IngestServicer
from trove_ingest.settings import Settings
from trove_protos.billing.v1 import billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2_grpc

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def arq_enqueuer(redis: ArqRedis) -> Enqueue:
    """Enqueue `analyze_media` with the caller's correlation id, trace context and priority; a duplicate is a no-op."""

    async def enqueue(args: AnalyzeMediaArgs) -> None:
        await enqueue_analysis(
            redis,
            function=ANALYZE_MEDIA,
            job_id=analyze_media_job_id(args.media_id),
            queue=ANALYSIS_QUEUE,
            args=args.with_context(),
        )

    return enqueue


async def resume_blocked_forever(ingest: Ingest, *, every_s: float) -> None:
    """Every `every_s`, queue media whose owner's budget was raised or renewed; errors wait for the next round."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await ingest.resume_blocked()
        except Exception:
            logger.exception("budget re-check failed; trying again in the next round")


async def requeue_stale_forever(ingest: Ingest, *, every_s: float) -> None:
    """Every `every_s`, queue again media whose job was lost (queued for longer than `every_s`)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await ingest.requeue_stale(older_than_s=every_s)
        except Exception:
            logger.exception("stale queue check failed; trying again in the next round")


async def sweep_forever(ingest: Ingest, *, every_s: float, grace_s: float) -> None:
    """Every `every_s`, remove abandoned uploads and orphaned files; errors wait for the next round."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await ingest.sweep(grace_s=grace_s)
        except Exception:
            logger.exception("upload sweep failed; trying again in the next round")


async def run(settings: Settings) -> None:
    # Before anything else: an object store that cannot be used stops the start, naming the setting.
    async with open_object_store(settings.storage, env_prefix="TROVE_INGEST_") as store:
        await serve_with(settings, store)


async def serve_with(settings: Settings, store: ObjectStorage) -> None:
    # Ingest's settings and locks are all transaction-local (user_transaction, pg_advisory_xact_lock), so
    # connections go back to the pool without a reset round trip (one per call; a search's page makes one call).
    pool = await open_database(settings.postgres, schema="ingest", migrations_dir=MIGRATIONS, session_reset=False)
    redis = await connect_redis(settings.redis.dsn)
    billing_channel = make_channel(
        settings.billing_addr, credential=ServiceCredential.of("ingest", settings.service_auth)
    )
    ingest = Ingest(
        pool=pool,
        store=store,
        enqueue=arq_enqueuer(redis),
        accounts=BillingAccounts(billing_pb2_grpc.BillingServiceStub(billing_channel)),
        max_upload_bytes=settings.max_upload_bytes,
        url_ttl_s=settings.storage.url_ttl_s,
    )
    servicer = IngestServicer(ingest)

    background = [
        asyncio.create_task(resume_blocked_forever(ingest, every_s=settings.budget_recheck_s)),
        asyncio.create_task(requeue_stale_forever(ingest, every_s=settings.requeue_stale_s)),
        asyncio.create_task(
            sweep_forever(ingest, every_s=settings.sweep_every_s, grace_s=settings.abandoned_upload_grace_s)
        ),
    ]

    async def close() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await billing_channel.close()
        await redis.aclose()
        await pool.close()

    await serve(
        settings=settings.grpc,
        service="ingest",
        auth=settings.service_auth,
        service_names=["trove.ingest.v1.IngestService"],
        registrations=[lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)],
        on_stop=close,
        ready_check=lambda: pool.fetchval("SELECT 1"),
    )


def main() -> None:
    settings = Settings()
    start_process(service="ingest", otel=settings.otel, log_level=settings.log_level, metrics=settings.metrics)
    try:
        asyncio.run(run(settings))
    except StorageConfigError as exc:
        logger.critical("the object store cannot be used: %s", exc)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
