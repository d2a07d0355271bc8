"""Admin REST handlers of /api/v1/jobs: the analysis dead letters and their requeue."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_common.context import ADMIN_METADATA
from trove_gateway.api import signed_in
from trove_gateway.bodies import int_param
from trove_protos.analysis.v1 import analysis_pb2


def dead_letter_json(letter: analysis_pb2.DeadLetter) -> dict[str, Any]:
    return {
        "job_id": letter.dead_letter_id,
        "media_id": letter.media_id,
        "user_id": letter.user_id,
        "stage": letter.stage,
        "errors": [{"error": e.error, "at": e.at} for e in letter.errors],
        "created_at": letter.created_at,
        "requeued_at": letter.requeued_at or None,
    }


async def list_dead(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    limit = int_param(request.query_params, "limit", default=100)
    found = await state.backends.analysis.ListDeadLetters(
        analysis_pb2.ListDeadLettersRequest(limit=limit), metadata=ADMIN_METADATA
    )
    return JSONResponse({"items": [dead_letter_json(x) for x in found.items]})


async def requeue(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    letter = await state.backends.analysis.RequeueDeadLetter(
        analysis_pb2.RequeueDeadLetterRequest(dead_letter_id=request.path_params["job_id"]), metadata=ADMIN_METADATA
    )
    return JSONResponse(dead_letter_json(letter), status_code=202)


ROUTES = [
    Route("/api/v1/jobs/dead", list_dead, methods=["GET"]),
    Route("/api/v1/jobs/{job_id}/requeue", requeue, methods=["POST"]),
]
