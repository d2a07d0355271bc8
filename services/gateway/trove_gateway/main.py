"""Entry point: python -m trove_gateway.main."""

from __future__ import annotations

import os

import uvicorn

from trove_common.service import start_process
from trove_gateway.app import create_app
from trove_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    start_process(service="gateway", otel=settings.otel, log_level=settings.log_level)
    if settings.firebase.auth_emulator_host:
        # firebase-admin reads this variable itself; it is how it is pointed at the Auth Emulator.
        os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = settings.firebase.auth_emulator_host
    uvicorn.run(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
