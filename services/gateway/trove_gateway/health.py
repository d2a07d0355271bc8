"""/healthz (the process answers) and /readyz (every backend answers its gRPC health check)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trove_gateway import responses as out
from trove_gateway.openapi import ApiRoute, Operation
from trove_gateway.state import GatewayState


async def healthz(request: Request) -> Response:
    return out.respond(out.Health(status="ok"))


async def readyz(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    checks = await state.backends.health()
    ready = all(status == "SERVING" for status in checks.values())
    return out.respond(
        out.Readiness(status="ready" if ready else "not_ready", checks=checks), status_code=200 if ready else 503
    )


ROUTES = [
    ApiRoute(
        "/healthz",
        healthz,
        method="GET",
        operation=Operation(
            operation_id="healthz", summary="The gateway answers", tag="health", response=out.Health, signed_in=False
        ),
    ),
    ApiRoute(
        "/readyz",
        readyz,
        method="GET",
        operation=Operation(
            operation_id="readyz",
            summary="Every backend answers its health check (503 with the same body when one does not)",
            tag="health",
            response=out.Readiness,
            statuses=(503,),
            signed_in=False,
        ),
    ),
]
