"""Pure-ASGI middleware: correlation id, one log line per request, security headers, per-address rate limits."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trove_common.context import new_request_id, request_id_var, user_id_var
from trove_common.errors import RateLimitedError
from trove_gateway.errors import trove_error_response
from trove_gateway.rate_limit import client_address, family_of

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 128 and all(c.isalnum() or c in "-_." for c in value)


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (or makes one), puts it in the log context and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _valid_request_id(incoming) else new_request_id()
        request_id_var.set(request_id)
        user_id_var.set("")
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if scope["path"] not in ("/healthz", "/readyz"):
                logger.info(
                    "%s %s",
                    scope["method"],
                    scope["path"],
                    extra={"http_status": status, "duration_ms": round(1000 * (time.perf_counter() - started), 2)},
                )


class AddressRateLimitMiddleware:
    """Takes a token from the client address' bucket of the route family before anything else runs (sign-in too).

    Runs inside the CORS middleware, so a browser can read its 429s.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        family = family_of(scope["path"]) if scope["type"] == "http" else None
        if family is None or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.gateway
        headers = dict(scope["headers"])
        address = client_address(
            peer=(scope.get("client") or ("unknown", 0))[0],
            forwarded_for=headers.get(b"x-forwarded-for", b"").decode("latin-1"),
            trusted_proxies=state.limiter.settings.trusted_proxies,
        )
        try:
            await state.limiter.take(scope="address", key=address, family=family)
        except RateLimitedError as exc:
            await trove_error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)
