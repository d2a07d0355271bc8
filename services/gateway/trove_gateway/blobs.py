"""The embedded blob endpoint: PUT and GET of objects through HMAC-signed, expiring URLs (S3 presigned-URL style)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from trove_common.blobstore import URL_PREFIX
from trove_common.errors import InvalidArgumentError, NotFoundError, PayloadTooLargeError
from trove_gateway.state import GatewayState


def _checked(request: Request, method: str) -> tuple[GatewayState, str, int]:
    state: GatewayState = request.app.state.gateway
    key = request.path_params["key"]
    params = request.query_params
    max_bytes = state.store.verify(
        key=key,
        method=method,
        expires=params.get("expires", ""),
        max_bytes=params.get("max_bytes", ""),
        signature=params.get("signature", ""),
    )
    return state, key, max_bytes


async def put_blob(request: Request) -> Response:
    """Store the body; at most the signed byte count, written to a temporary file and renamed into place."""
    state, key, max_bytes = _checked(request, "PUT")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise PayloadTooLargeError(f"this upload URL accepts at most {max_bytes} bytes")
    temp, final = state.store.open_temp(key)
    received = 0
    try:
        with temp.open("wb") as fh:
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise PayloadTooLargeError(f"this upload URL accepts at most {max_bytes} bytes")
                fh.write(chunk)
        if received == 0:
            raise InvalidArgumentError("the request body is empty")
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return Response(status_code=200)


async def get_blob(request: Request) -> Response:
    state, key, _ = _checked(request, "GET")
    path = state.store.path(key)
    if not path.is_file():
        raise NotFoundError("object not found")
    return FileResponse(path)


ROUTES = [
    Route(URL_PREFIX + "{key:path}", put_blob, methods=["PUT"]),
    Route(URL_PREFIX + "{key:path}", get_blob, methods=["GET"]),
]
