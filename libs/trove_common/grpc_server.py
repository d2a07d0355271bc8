"""The grpc.aio server every service runs: caller authentication, context + error interceptor, health, graceful stop."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace

from trove_common.context import (
    ADMIN_KEY,
    CALLER_KEY,
    REQUEST_ID_KEY,
    SERVICE_TOKEN_KEY,
    USER_ID_KEY,
    admin_var,
    new_request_id,
    request_id_var,
    user_id_var,
)
from trove_common.errors import TroveError, details_to_wire, mapping_for
from trove_common.metrics import GRPC_SERVER_SECONDS
from trove_common.outage import as_unavailable
from trove_common.settings import GrpcServerSettings, ServiceAuthSettings

logger = logging.getLogger(__name__)

ERROR_REASON_KEY = "x-trove-error-reason"
ERROR_DETAILS_KEY = "x-trove-error-details"
# Probes call health without a credential; nothing else is open.
HEALTH_PREFIX = "/grpc.health.v1.Health/"
# The only caller whose `x-trove-admin` is believed: it verified the user's admin claim itself.
ADMIN_CALLER = "gateway"
# The reason on a refused credential: to the calling service a misconfiguration (internal), not the user's 401.
CREDENTIAL_REFUSED_REASON = "service_credential"

# The span attribute carrying the correlation id (the gateway's request span has it too).
REQUEST_ID_ATTRIBUTE = "trove.request_id"

# Registers a servicer on a server, e.g. `search_pb2_grpc.add_SearchServiceServicer_to_server` bound to a servicer.
Registration = Callable[[grpc.aio.Server], None]
Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class ContextInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates the calling service, reads the user id and correlation id it sends, logs one line per call,
    maps errors.

    A call without a valid credential is refused UNAUTHENTICATED before its request is even deserialised; only
    then is identity metadata believed, and the admin flag only from the gateway (or the service's own
    credential, which operator commands such as `python -m trove_search.reindex` run with). Domain errors become
    their gRPC code through the one table in `trove_common.errors`; anything else becomes INTERNAL with a generic
    message, its traceback logged here once.
    """

    def __init__(self, *, service: str, auth: ServiceAuthSettings) -> None:
        self._tokens = {name: token.get_secret_value().encode() for name, token in auth.callers.items()}
        self._tokens[service] = auth.token.get_secret_value().encode()
        self._admins = frozenset({ADMIN_CALLER, service})

    def authenticate(self, metadata: dict[str, Any]) -> str | None:
        """The calling service's name when its token matches, else None."""
        caller = metadata.get(CALLER_KEY)
        given = metadata.get(SERVICE_TOKEN_KEY)
        if not isinstance(caller, str) or not isinstance(given, str):
            return None
        expected = self._tokens.get(caller)
        if expected is None:
            return None
        return caller if hmac.compare_digest(given.encode(), expected) else None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        if method.startswith(HEALTH_PREFIX):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        caller = self.authenticate(metadata)
        if caller is None:
            logger.warning(
                "call refused: no valid service credential",
                extra={"grpc_method": method, "caller": str(metadata.get(CALLER_KEY, ""))[:64]},
            )
            return _REFUSE
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = _wrap(handler.unary_unary, method=method, metadata=metadata, admin_trusted=caller in self._admins)
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def _refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.abort(
        grpc.StatusCode.UNAUTHENTICATED,
        "a valid service credential is required",
        trailing_metadata=((ERROR_REASON_KEY, CREDENTIAL_REFUSED_REASON),),
    )


# No request_deserializer: the refused request stays raw bytes, never parsed.
_REFUSE = grpc.unary_unary_rpc_method_handler(_refuse)


def _wrap(inner: Handler, *, method: str, metadata: dict[str, Any], admin_trusted: bool) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        request_id = str(metadata.get(REQUEST_ID_KEY) or new_request_id())
        request_id_var.set(request_id)
        trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        user_id_var.set(str(metadata.get(USER_ID_KEY) or ""))
        admin_var.set(admin_trusted and metadata.get(ADMIN_KEY) == "1")
        started = time.perf_counter()
        outcome = "OK"
        try:
            return await inner(request, context)
        except TroveError as exc:
            mapping = mapping_for(exc)
            outcome = mapping.grpc_code.name
            if mapping.http_status >= 500:
                logger.exception("%s failed", method)
            trailing = [(ERROR_REASON_KEY, mapping.reason)]
            if (details := details_to_wire(exc)) is not None:
                trailing.append((ERROR_DETAILS_KEY, details))
            await context.abort(mapping.grpc_code, str(exc), trailing_metadata=tuple(trailing))
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError) or type(exc).__name__ == "AbortError":
                raise
            if (outage := as_unavailable(exc)) is not None:
                outcome = "UNAVAILABLE"
                logger.warning("%s met an outage", method, extra={"error": repr(exc)})
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    str(outage),
                    trailing_metadata=(
                        (ERROR_REASON_KEY, outage.reason),
                        (ERROR_DETAILS_KEY, details_to_wire(outage) or "{}"),
                    ),
                )
            outcome = "INTERNAL"
            logger.exception("%s failed unexpectedly", method)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error", trailing_metadata=((ERROR_REASON_KEY, "internal"),)
            )
        finally:
            took_s = time.perf_counter() - started
            GRPC_SERVER_SECONDS.labels(method=method, code=outcome).observe(took_s)
            logger.info(
                "grpc %s",
                method,
                extra={"grpc_method": method, "grpc_code": outcome, "duration_ms": round(1000 * took_s, 2)},
            )

    return handle


@dataclass(frozen=True, slots=True)
class RunningServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int


async def start_server(
    *,
    settings: GrpcServerSettings,
    service: str,
    auth: ServiceAuthSettings,
    service_names: Sequence[str],
    registrations: Sequence[Registration],
) -> RunningServer:
    """Start a server with our interceptor and the health service; port 0 picks a free port (tests).

    Args:
        service: this service's name as its callers know it ("billing", "ingest", ...).
        auth: its credential and those of the services allowed to call it.
    """
    server = grpc.aio.server(interceptors=[ContextInterceptor(service=service, auth=auth)])
    for register in registrations:
        register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    await server.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    logger.info("grpc server listening", extra={"address": f"{settings.host}:{port}"})
    return RunningServer(server=server, health=health_servicer, port=port)


READY_CHECK_EVERY_S = 2.0


async def _watch_ready(
    servicer: health.aio.HealthServicer, check: Callable[[], Awaitable[object]], *, names: Sequence[str]
) -> None:
    serving = True
    while True:
        await asyncio.sleep(READY_CHECK_EVERY_S)
        try:
            async with asyncio.timeout(READY_CHECK_EVERY_S):
                await check()
            ok = True
        except Exception as exc:
            ok = False
            if serving:
                logger.warning("a dependency is unavailable: not serving", extra={"error": repr(exc)})
        if ok != serving:
            serving = ok
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in names:
                await servicer.set(name, status)
            if ok:
                logger.info("dependencies are back: serving")


async def serve(
    *,
    settings: GrpcServerSettings,
    service: str,
    auth: ServiceAuthSettings,
    service_names: Sequence[str],
    registrations: Sequence[Registration],
    on_stop: Callable[[], Awaitable[None]] | None = None,
    ready_check: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Run a gRPC server until SIGTERM/SIGINT, then drain: health NOT_SERVING, stop with grace, run `on_stop`.

    `ready_check` (e.g. `SELECT 1` on the service's pool) runs every READY_CHECK_EVERY_S: while it fails or hangs
    the health status reads NOT_SERVING, so the gateway's /readyz says which backend lost its database.
    """
    running = await start_server(
        settings=settings, service=service, auth=auth, service_names=service_names, registrations=registrations
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch = None
    if ready_check is not None:
        watch = asyncio.create_task(_watch_ready(running.health, ready_check, names=("", *service_names)))
    await stop.wait()
    if watch is not None:
        watch.cancel()
    logger.info("stopping grpc server", extra={"grace_s": settings.grace_s})
    await running.health.enter_graceful_shutdown()
    await running.server.stop(settings.grace_s)
    if on_stop is not None:
        await on_stop()
