"""Entry point: `python -m trove_analysis.main` runs the gRPC server, `... main worker` an ARQ worker."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from trove_analysis.clients import IngestMediaStatus
from trove_analysis.dead_letters import DeadLetters
from trove_analysis.server import AnalysisServicer
from trove_analysis.settings import Settings
from trove_analysis.views import Analyses
from trove_analysis.worker import run_workers
from trove_common.grpc_client import ServiceCredential, make_channel
from trove_common.grpc_server import serve
from trove_common.jobs import connect_redis
from trove_common.objectstore import StorageConfigError
from trove_common.service import open_database, start_process
from trove_protos.analysis.v1 import analysis_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2_grpc

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


async def run_server(settings: Settings) -> None:
    pool = await open_database(settings.postgres, schema="analysis", migrations_dir=MIGRATIONS)
    redis = await connect_redis(settings.redis.dsn)
    ingest = make_channel(settings.ingest_addr, credential=ServiceCredential.of("analysis", settings.service_auth))
    status = IngestMediaStatus(ingest_pb2_grpc.IngestServiceStub(ingest))
    servicer = AnalysisServicer(Analyses(pool), DeadLetters(pool=pool, redis=redis, status=status))

    async def close() -> None:
        await ingest.close()
        await redis.close()
        await pool.close()

    await serve(
        settings=settings.grpc,
        service="analysis",
        auth=settings.service_auth,
        service_names=["trove.analysis.v1.AnalysisService"],
        registrations=[lambda server: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(servicer, server)],
        on_stop=close,
        ready_check=lambda: pool.fetchval("SELECT 1"),
    )


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else "server"
    if role not in ("server", "worker"):
        sys.exit(f"usage: python -m trove_analysis.main [server|worker], not {role!r}")
    settings = Settings()
    start_process(
        service="analysis-worker" if role == "worker" else "analysis",
        otel=settings.otel,
        log_level=settings.log_level,
        metrics=settings.metrics,
    )
    if role == "server":
        asyncio.run(run_server(settings))
    else:
        # The server applies migrations; a worker started first waits for them by retrying its jobs.
        try:
            asyncio.run(run_workers(settings))
        except StorageConfigError as exc:
            raise SystemExit(f"trove-analysis worker: the object store cannot be used: {exc}") from None


if __name__ == "__main__":
    main()
