"""Entry point: python -m trove_gateway.main."""

from __future__ import annotations

import os

import uvicorn

from trove_common.service import start_process
from trove_gateway.app import create_app
from trove_gateway.identity import IdentityConfigError
from trove_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    start_process(service="gateway", otel=settings.otel, log_level=settings.log_level, metrics=settings.metrics)
    if settings.auth.mode != "emulator" and os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        # firebase-admin would then accept unsigned tokens as if Google had signed them.
        raise SystemExit(
            f"trove-gateway: FIREBASE_AUTH_EMULATOR_HOST is set but TROVE_GATEWAY_AUTH__MODE={settings.auth.mode}; "
            "unset it (the emulator's tokens are unsigned)"
        )
    try:
        app = create_app(settings)
    except IdentityConfigError as exc:
        raise SystemExit(f"trove-gateway: {exc}") from None
    uvicorn.run(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
