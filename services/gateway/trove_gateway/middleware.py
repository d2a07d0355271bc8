"""Pure-ASGI middleware: correlation id, one log line per request, security headers, per-address rate limits,
bounded requests."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trove_common.blobstore import URL_PREFIX
from trove_common.context import new_request_id, request_id_var, user_id_var
from trove_common.errors import InvalidArgumentError, PayloadTooLargeError, RateLimitedError
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


def _bad_text(value: str) -> bool:
    return "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)


class EdgeLimitMiddleware:
    """Bounds every request before a handler reads it: no NUL or lone surrogate in the path or query, and a body no
    larger than the limit, by its Content-Length and by the bytes actually read (counted while they stream in).

    The limit is `limits.max_json_bytes`, except for signed blob URLs, whose handler enforces the signed size and
    which this bounds by `max_upload_bytes`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings
        blob = scope["path"].startswith(URL_PREFIX)
        max_bytes: int = settings.max_upload_bytes if blob else settings.limits.max_json_bytes
        try:
            self._check_head(scope, max_bytes)
        except InvalidArgumentError as exc:
            await trove_error_response(exc)(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLargeError(f"the request body must be at most {max_bytes} bytes")
            return message

        await self.app(scope, bounded_receive, send)

    @staticmethod
    def _check_head(scope: Scope, max_bytes: int) -> None:
        if _bad_text(scope["path"]):
            raise InvalidArgumentError("the path must not contain NUL characters or lone surrogates")
        query: bytes = scope.get("query_string", b"")
        if b"\x00" in query or b"%00" in query.lower():
            raise InvalidArgumentError("query parameters must not contain NUL characters")
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not (value.isdigit() and len(value) <= 20):  # bytes.isdigit() is ASCII-only
                    raise InvalidArgumentError("Content-Length must be a number of bytes")
                if int(value) > max_bytes:
                    raise PayloadTooLargeError(f"the request body must be at most {max_bytes} bytes")
