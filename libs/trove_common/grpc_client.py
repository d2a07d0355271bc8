"""gRPC client channels: context metadata, a deadline on every call, and errors that come back typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from trove_common.context import REQUEST_ID_KEY, USER_ID_KEY, request_id_var, user_id_var
from trove_common.errors import error_from_wire
from trove_common.grpc_server import ERROR_DETAILS_KEY, ERROR_REASON_KEY

DEFAULT_TIMEOUT_S = 10.0
# Peers are on loopback or in-cluster: after a peer restarts, reconnect within seconds, not gRPC's default 2 min.
RECONNECT_OPTIONS = (("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 2000))


class _ContextClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout_s: float) -> None:
        self._default_timeout_s = default_timeout_s

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        if REQUEST_ID_KEY not in metadata and (request_id := request_id_var.get()):
            metadata.add(REQUEST_ID_KEY, request_id)
        if USER_ID_KEY not in metadata and (user_id := user_id_var.get()):
            metadata.add(USER_ID_KEY, user_id)
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout or self._default_timeout_s,
            metadata=metadata,
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        call = await continuation(details, request)
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            trailing = exc.trailing_metadata() or ()
            values = {k: str(v) for k, v in trailing}
            raise error_from_wire(
                code=exc.code(),
                reason=values.get(ERROR_REASON_KEY),
                message=exc.details() or exc.code().name,
                details=values.get(ERROR_DETAILS_KEY),
            ) from exc


def make_channel(address: str, *, default_timeout_s: float = DEFAULT_TIMEOUT_S) -> grpc.aio.Channel:
    """An insecure channel (loopback / in-cluster) whose calls carry context metadata and a default deadline.

    Downstream errors are raised as the `TroveError` subclass the server raised, so they map to the same
    HTTP status at the gateway.
    """
    return grpc.aio.insecure_channel(
        address, options=RECONNECT_OPTIONS, interceptors=[_ContextClientInterceptor(default_timeout_s)]
    )
