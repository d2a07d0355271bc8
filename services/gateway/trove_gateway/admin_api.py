"""REST handlers for administrators: /api/v1/admin/reindex (the `admin` claim on the Firebase token)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_common.context import ADMIN_METADATA
from trove_gateway.api import signed_in
from trove_protos.search.v1 import search_pb2


def _space_json(space: search_pb2.EmbeddingSpace) -> dict[str, Any]:
    return {
        "space": space.space,
        "model": space.model,
        "dim": space.dim,
        "state": space.state,
        "segments_total": space.segments_total,
        "segments_done": space.segments_done,
        "started_at": space.started_at or None,
        "finished_at": space.finished_at or None,
        "last_error": space.last_error or None,
    }


def _status_json(status: search_pb2.ReindexStatus) -> dict[str, Any]:
    return {
        "started": status.started,
        "running": status.running,
        "active": _space_json(status.active),
        "target": _space_json(status.target),
    }


async def start_reindex(request: Request) -> Response:
    """202 while a run is under way (started by this call or earlier); 200 when the target is already active."""
    state = await signed_in(request, admin=True)
    status = await state.backends.search.StartReindex(search_pb2.StartReindexRequest(), metadata=ADMIN_METADATA)
    return JSONResponse(_status_json(status), status_code=202 if status.running else 200)


async def reindex_status(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    status = await state.backends.search.GetReindex(search_pb2.GetReindexRequest(), metadata=ADMIN_METADATA)
    return JSONResponse(_status_json(status))


ROUTES = [
    Route("/api/v1/admin/reindex", start_reindex, methods=["POST"]),
    Route("/api/v1/admin/reindex", reindex_status, methods=["GET"]),
]
