"""The simulator's ASGI app: one POST endpoint dispatching on X-Amz-Target, and a few /_sim/ routes for tests.

Every call is checked like AWS checks it, as far as the tests need: the SigV4 credential must name the configured
access key (else UnrecognizedClientException), and the first N calls after /_sim/throttle are refused with
ThrottlingException, which botocore's retry modes back off from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_awssim.comprehend import Comprehend
from trove_awssim.models import LocalModels
from trove_awssim.rekognition import Rekognition
from trove_awssim.s3 import S3Reader
from trove_awssim.transcribe import Transcribe
from trove_awssim.wire import AwsError, access_key_id, answer, error

logger = logging.getLogger(__name__)

# X-Amz-Target prefixes, by service.
PREFIXES = {"RekognitionService": "rekognition", "Comprehend_20171127": "comprehend", "Transcribe": "transcribe"}


@dataclass(slots=True)
class Throttle:
    """Refuse the next `calls` calls whose target starts with `target` ("" for any)."""

    calls: int = 0
    target: str = ""

    def take(self, target: str) -> bool:
        if self.calls > 0 and target.startswith(self.target):
            self.calls -= 1
            return True
        return False


@dataclass(slots=True)
class SimState:
    access_key_id: str | None
    throttle: Throttle = field(default_factory=Throttle)
    calls: list[dict[str, Any]] = field(default_factory=list)


def create_app(
    *,
    models: LocalModels,
    s3_endpoint: str | None,
    region: str,
    access_key_id: str | None,
    throttle_first: int = 0,
    s3_credentials: tuple[str, str] | None = None,
) -> Starlette:
    """The simulator; `access_key_id` None accepts any signed call."""
    s3 = S3Reader(endpoint_url=s3_endpoint, region=region, credentials=s3_credentials)
    transcribe = Transcribe(models=models, s3=s3)
    services: dict[str, Any] = {
        "rekognition": Rekognition(models=models, s3=s3),
        "comprehend": Comprehend(models=models),
        "transcribe": transcribe,
    }
    state = SimState(access_key_id=access_key_id, throttle=Throttle(calls=throttle_first))

    async def call(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        try:
            result = await _dispatch(request, target, state, services)
        except AwsError as exc:
            state.calls.append({"target": target, "error": exc.code})
            return error(exc)
        state.calls.append({"target": target, "error": ""})
        return answer(result)

    async def set_throttle(request: Request) -> Response:
        body = await request.json()
        state.throttle = Throttle(calls=int(body.get("calls", 0)), target=str(body.get("target", "")))
        return JSONResponse({"calls": state.throttle.calls})

    async def access_key(request: Request) -> Response:
        # POST: a key revoked or rotated under a running service; calls signed with the old one are refused.
        if request.method == "POST":
            state.access_key_id = str((await request.json())["access_key_id"])
        return JSONResponse({"access_key_id": state.access_key_id})

    async def calls(request: Request) -> Response:
        return JSONResponse({"calls": state.calls})

    async def reset(request: Request) -> Response:
        state.calls.clear()
        state.throttle = Throttle()
        return JSONResponse({})

    async def transcript(request: Request) -> Response:
        served = transcribe.served(request.path_params["name"])
        if served is None:
            return Response(status_code=404)
        return Response(served, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await transcribe.close()

    app = Starlette(
        routes=[
            Route("/", call, methods=["POST"]),
            Route("/_sim/throttle", set_throttle, methods=["POST"]),
            Route("/_sim/calls", calls, methods=["GET"]),
            Route("/_sim/access-key", access_key, methods=["GET", "POST"]),
            Route("/_sim/reset", reset, methods=["POST"]),
            Route("/_sim/transcripts/{name}", transcript, methods=["GET"]),
            Route("/_sim/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.transcribe = transcribe
    return app


async def _dispatch(request: Request, target: str, state: SimState, services: dict[str, Any]) -> dict[str, Any]:
    prefix, _, operation = target.partition(".")
    service = services.get(PREFIXES.get(prefix, ""))
    handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = (
        getattr(service, operation, None) if service is not None and operation[:1].isupper() else None
    )
    if handler is None:
        raise AwsError("UnknownOperationException", f"Unknown operation {target!r}")
    authorization = request.headers.get("authorization", "")
    if not authorization:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", status=403)
    if state.access_key_id is not None and access_key_id(authorization) != state.access_key_id:
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    if state.throttle.take(target):
        raise AwsError("ThrottlingException", "Rate exceeded")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise AwsError("SerializationException", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise AwsError("SerializationException", "the body is not a JSON object")
    try:
        return await handler(body)
    except AwsError:
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as exc:
        logger.exception("simulated call failed", extra={"target": target})
        raise AwsError("InternalServerException", f"{type(exc).__name__}: {exc}", status=500) from exc
