"""HTTP error responses, all from the one table in trove_common.errors: `{"error": {code, message, request_id}}`."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_common.context import request_id_var
from trove_common.errors import TroveError, mapping_for
from trove_common.outage import RETRY_AFTER_S, as_unavailable

logger = logging.getLogger(__name__)

_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


def error_response(*, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id_var.get()}
    if details:
        error["details"] = details
    response = JSONResponse({"error": error}, status_code=status)
    if details and isinstance(details.get("retry_after_s"), int):
        response.headers["Retry-After"] = str(details["retry_after_s"])
    return response


def trove_error_response(exc: Exception) -> JSONResponse:
    """The error body and status of a domain error (or of any exception, as an internal error)."""
    mapping = mapping_for(exc)
    if mapping.http_status >= 500:
        logger.error("request failed", extra={"reason": mapping.reason, "error": str(exc)})
    details = exc.details if isinstance(exc, TroveError) else None
    if mapping.http_status == 503 and not (details or {}).get("retry_after_s"):
        details = {**(details or {}), "retry_after_s": RETRY_AFTER_S}  # an outage: say when to try again
    return error_response(status=mapping.http_status, code=mapping.reason, message=str(exc), details=details)


async def trove_error(request: Request, exc: Exception) -> Response:
    return trove_error_response(exc)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (routes of one path are split by method)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error_response(
        status=exc.status_code, code=_HTTP_REASONS.get(exc.status_code, "http_error"), message=str(exc.detail)
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    if (outage := as_unavailable(exc)) is not None:  # PostgreSQL or Redis away: 503 with Retry-After, not 500
        logger.warning("request met an outage", extra={"error": repr(exc)})
        return trove_error_response(outage)
    logger.exception("unhandled error")
    return error_response(status=500, code="internal", message="internal error")


EXCEPTION_HANDLERS = {TroveError: trove_error, HTTPException: http_error, Exception: unexpected_error}
