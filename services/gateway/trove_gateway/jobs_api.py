"""Admin REST handlers of /api/v1/jobs: the analysis dead letters and their requeue."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trove_common.context import ADMIN_METADATA
from trove_gateway import responses as out
from trove_gateway.api import signed_in
from trove_gateway.bodies import DeadLettersQuery, parse_query
from trove_gateway.openapi import ApiRoute, Operation
from trove_protos.analysis.v1 import analysis_pb2


def dead_letter_out(letter: analysis_pb2.DeadLetter) -> out.DeadLetter:
    return out.DeadLetter(
        job_id=letter.dead_letter_id,
        media_id=letter.media_id,
        user_id=letter.user_id,
        stage=letter.stage,
        errors=[out.DeadLetterError(error=e.error, at=e.at) for e in letter.errors],
        created_at=letter.created_at,
        requeued_at=letter.requeued_at or None,
    )


async def list_dead(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    query = parse_query(request.query_params, DeadLettersQuery)
    found = await state.backends.analysis.ListDeadLetters(
        analysis_pb2.ListDeadLettersRequest(limit=query.limit), metadata=ADMIN_METADATA
    )
    return out.respond(out.DeadLetters(items=[dead_letter_out(x) for x in found.items]))


async def requeue(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    letter = await state.backends.analysis.RequeueDeadLetter(
        analysis_pb2.RequeueDeadLetterRequest(dead_letter_id=request.path_params["job_id"]), metadata=ADMIN_METADATA
    )
    return out.respond(dead_letter_out(letter), status_code=202)


ROUTES = [
    ApiRoute(
        "/api/v1/jobs/dead",
        list_dead,
        method="GET",
        operation=Operation(
            operation_id="listDeadLetters",
            summary="Admin: analysis stages that used up their tries",
            tag="admin",
            query=DeadLettersQuery,
            response=out.DeadLetters,
            admin=True,
        ),
    ),
    ApiRoute(
        "/api/v1/jobs/{job_id}/requeue",
        requeue,
        method="POST",
        operation=Operation(
            operation_id="requeueDeadLetter",
            summary="Admin: run a dead letter's stage again with fresh tries",
            tag="admin",
            status=202,
            response=out.DeadLetter,
            errors=(404, 409),
            admin=True,
        ),
    ),
]
