"""Pure-ASGI middleware: correlation id, one log line per request, security headers, per-address rate limits,
bounded requests."""

from __future__ import annotations

import logging
import time

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trove_common.blobstore import URL_PREFIX
from trove_common.context import new_request_id, request_id_var, user_id_var
from trove_common.errors import InvalidArgumentError, PayloadTooLargeError, RateLimitedError
from trove_common.metrics import HTTP_REQUEST_SECONDS
from trove_gateway.errors import trove_error_response
from trove_gateway.rate_limit import client_address, family_of

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
# The span attribute carrying the correlation id, on the gateway's request span and every gRPC server span.
REQUEST_ID_ATTRIBUTE = "trove.request_id"
# The route label of a request no route matched (a 404, a scan): one series for all of them, not one per path.
UNMATCHED_ROUTE = "<unmatched>"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 128 and all(c.isalnum() or c in "-_." for c in value)


def route_template(scope: Scope) -> str:
    """The path template of the route serving `scope` ("/api/v1/media/{media_id}"), never the raw path.

    Starlette records the matched route in the scope; a request answered before routing (a 429 from the address
    limiter) is matched here against the app's routes.
    """
    route: BaseRoute | None = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(app, "routes", ()):
            match, _ = candidate.matches(scope)
            if match != Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (or makes one), puts it in the log context and the request's span, echoes
    it back, and times the request for `trove_http_request_duration_seconds`."""

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
        trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
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
            took_s = time.perf_counter() - started
            HTTP_REQUEST_SECONDS.labels(
                route=route_template(scope), method=scope["method"], status=str(status)
            ).observe(took_s)
            if scope["path"] not in ("/healthz", "/readyz"):
                logger.info(
                    "%s %s",
                    scope["method"],
                    scope["path"],
                    extra={"http_status": status, "duration_ms": round(1000 * took_s, 2)},
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
