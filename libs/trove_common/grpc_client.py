"""gRPC client channels: the caller's credential and context metadata, a deadline on every call, typed errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from trove_common.context import (
    CALLER_KEY,
    REQUEST_ID_KEY,
    SERVICE_TOKEN_KEY,
    USER_ID_KEY,
    request_id_var,
    user_id_var,
)
from trove_common.errors import TroveError, error_from_wire
from trove_common.grpc_server import CREDENTIAL_REFUSED_REASON, ERROR_DETAILS_KEY, ERROR_REASON_KEY
from trove_common.settings import ServiceAuthSettings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
# Peers are on loopback or in-cluster: after a peer restarts, reconnect within seconds, not gRPC's default 2 min.
RECONNECT_OPTIONS = (("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 2000))


@dataclass(frozen=True, slots=True)
class ServiceCredential:
    """Who is calling (a service name its peers list among their callers) and the token proving it."""

    name: str
    token: str = field(repr=False)

    @classmethod
    def of(cls, name: str, auth: ServiceAuthSettings) -> ServiceCredential:
        """The credential of service `name`, from its settings."""
        return cls(name=name, token=auth.token.get_secret_value())


class _ContextClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, credential: ServiceCredential, default_timeout_s: float) -> None:
        self._credential = credential
        self._default_timeout_s = default_timeout_s

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(
            *((k, v) for k, v in (client_call_details.metadata or ()) if k not in (CALLER_KEY, SERVICE_TOKEN_KEY))
        )
        metadata.add(CALLER_KEY, self._credential.name)
        metadata.add(SERVICE_TOKEN_KEY, self._credential.token)
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
            if (
                exc.code() == grpc.StatusCode.UNAUTHENTICATED
                and values.get(ERROR_REASON_KEY) == CREDENTIAL_REFUSED_REASON
            ):
                # Our own misconfiguration, not the end user's fault: an internal error wherever it surfaces.
                logger.error(
                    "a peer refused this service's credential",
                    extra={"grpc_method": client_call_details.method, "caller": self._credential.name},
                )
                raise TroveError(f"a peer refused the credential of {self._credential.name!r}") from exc
            raise error_from_wire(
                code=exc.code(),
                reason=values.get(ERROR_REASON_KEY),
                message=exc.details() or exc.code().name,
                details=values.get(ERROR_DETAILS_KEY),
            ) from exc


def make_channel(
    address: str, *, credential: ServiceCredential, default_timeout_s: float = DEFAULT_TIMEOUT_S
) -> grpc.aio.Channel:
    """A plaintext channel (loopback / in-cluster) whose calls carry the caller's credential, context metadata and
    a default deadline.

    Downstream errors are raised as the `TroveError` subclass the server raised, so they map to the same
    HTTP status at the gateway.
    """
    return grpc.aio.insecure_channel(
        address, options=RECONNECT_OPTIONS, interceptors=[_ContextClientInterceptor(credential, default_timeout_s)]
    )
