"""Pure-ASGI middleware: correlation id, one log line per request, security headers, per-address rate limits."""

from __future__ import annotations

import logging
import time

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trove_common.context import new_request_id, request_id_var, user_id_var
from trove_common.errors import RateLimitedError
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
