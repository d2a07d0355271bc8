"""REST handlers for administrators: /api/v1/admin/reindex (the `admin` claim on the Firebase token)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trove_common.context import ADMIN_METADATA
from trove_gateway import responses as out
from trove_gateway.api import signed_in
from trove_gateway.openapi import ApiRoute, Operation
from trove_protos.search.v1 import search_pb2


def _space_out(space: search_pb2.EmbeddingSpace) -> out.EmbeddingSpace:
    return out.EmbeddingSpace(
        space=space.space,
        model=space.model,
        dim=space.dim,
        state=space.state,
        segments_total=space.segments_total,
        segments_done=space.segments_done,
        started_at=space.started_at or None,
        finished_at=space.finished_at or None,
        last_error=space.last_error or None,
    )


def _status_out(status: search_pb2.ReindexStatus) -> out.ReindexStatus:
    return out.ReindexStatus(
        started=status.started,
        running=status.running,
        active=_space_out(status.active),
        target=_space_out(status.target),
    )


async def start_reindex(request: Request) -> Response:
    """202 while a run is under way (started by this call or earlier); 200 when the target is already active."""
    state = await signed_in(request, admin=True)
    status = await state.backends.search.StartReindex(search_pb2.StartReindexRequest(), metadata=ADMIN_METADATA)
    return out.respond(_status_out(status), status_code=202 if status.running else 200)


async def reindex_status(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    status = await state.backends.search.GetReindex(search_pb2.GetReindexRequest(), metadata=ADMIN_METADATA)
    return out.respond(_status_out(status))


ROUTES = [
    ApiRoute(
        "/api/v1/admin/reindex",
        start_reindex,
        method="POST",
        operation=Operation(
            operation_id="startReindex",
            summary="Admin: re-embed every segment into the configured embedding space",
            description="202 while a run is under way (started by this call or earlier); 200 when it is done.",
            tag="admin",
            status=202,
            statuses=(200,),
            response=out.ReindexStatus,
            admin=True,
        ),
    ),
    ApiRoute(
        "/api/v1/admin/reindex",
        reindex_status,
        method="GET",
        operation=Operation(
            operation_id="getReindex",
            summary="Admin: the state of the active and target embedding spaces",
            tag="admin",
            response=out.ReindexStatus,
            admin=True,
        ),
    ),
]
