"""Start-up steps every gRPC service shares: logging, telemetry, its database pool with migrations applied."""

from __future__ import annotations

import faulthandler
import logging
from pathlib import Path

import asyncpg

from trove_common.db import create_pool
from trove_common.logs import configure_logging
from trove_common.metrics import start_metrics_server
from trove_common.migrations import migrate
from trove_common.settings import MetricsSettings, OtelSettings, PostgresSettings
from trove_common.telemetry import setup_telemetry

logger = logging.getLogger(__name__)


def start_process(*, service: str, otel: OtelSettings, log_level: str, metrics: MetricsSettings) -> None:
    """Logging, tracing and the metrics port for one service process; call first thing in main."""
    # A crash inside a native library (a model runtime, a decoder) then leaves a Python traceback in the log.
    faulthandler.enable()
    configure_logging(service=service, level=log_level)
    setup_telemetry(service=service, settings=otel)
    start_metrics_server(metrics)
    logger.info("starting", extra={"service_name": service})


async def open_database(
    settings: PostgresSettings,
    *,
    schema: str,
    migrations_dir: Path,
    vectors: bool = False,
    session_reset: bool = True,
) -> asyncpg.Pool:
    """The service's pool, after its migrations are applied (under the advisory lock, so replicas take turns).

    Args:
        session_reset: see `create_pool`.
    """
    pool = await create_pool(settings, vectors=False)
    async with pool.acquire() as conn:
        await migrate(conn, schema=schema, directory=migrations_dir)
    if not vectors and session_reset:
        return pool
    # The pgvector codec can only be registered once the extension's types are visible; reopen with it.
    await pool.close()
    return await create_pool(settings, vectors=vectors, session_reset=session_reset)
