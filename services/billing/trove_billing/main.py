"""Entry point: python -m trove_billing.main."""

from __future__ import annotations

import asyncio
from pathlib import Path

from trove_billing.billing import Billing
from trove_billing.server import BillingServicer
from trove_billing.settings import Settings
from trove_common.grpc_server import serve
from trove_common.service import open_database, start_process
from trove_protos.billing.v1 import billing_pb2_grpc

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


async def run(settings: Settings) -> None:
    pool = await open_database(settings.postgres, schema="billing", migrations_dir=MIGRATIONS)
    billing = Billing(pool=pool, tiers=settings.tiers, prices=settings.prices, currency=settings.currency)
    servicer = BillingServicer(billing)
    await serve(
        settings=settings.grpc,
        service="billing",
        auth=settings.service_auth,
        service_names=["trove.billing.v1.BillingService"],
        registrations=[lambda server: billing_pb2_grpc.add_BillingServiceServicer_to_server(servicer, server)],
        on_stop=pool.close,
        ready_check=lambda: pool.fetchval("SELECT 1"),
    )


def main() -> None:
    settings = Settings()
    start_process(service="billing", otel=settings.otel, log_level=settings.log_level, metrics=settings.metrics)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
