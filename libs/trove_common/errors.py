"""Domain errors shared by every service, and the one table that maps them to gRPC codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass

import grpc


class TroveError(Exception):
    """Base of every domain error; anything else that escapes a handler is an internal error."""

    reason = "internal"


class InvalidArgumentError(TroveError):
    reason = "invalid_argument"


class UnauthenticatedError(TroveError):
    reason = "unauthenticated"


class QuotaExceededError(TroveError):
    reason = "quota_exceeded"


class PermissionDeniedError(TroveError):
    reason = "permission_denied"


class NotFoundError(TroveError):
    reason = "not_found"


class ConflictError(TroveError):
    """The request is valid but the resource is not in a state that allows it (e.g. bytes not uploaded yet)."""

    reason = "conflict"


class AlreadyExistsError(TroveError):
    reason = "already_exists"


class PayloadTooLargeError(InvalidArgumentError):
    reason = "payload_too_large"


class UnsupportedMediaTypeError(InvalidArgumentError):
    reason = "unsupported_media_type"


class UnprocessableError(InvalidArgumentError):
    """The bytes are not what they claim to be (magic bytes, decodability)."""

    reason = "unprocessable"


class UnavailableError(TroveError):
    reason = "unavailable"


class DeadlineExceededError(TroveError):
    reason = "deadline_exceeded"


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    """How one error reason travels: its gRPC status code and the HTTP status the gateway answers with."""

    reason: str
    grpc_code: grpc.StatusCode
    http_status: int


_TABLE: dict[type[TroveError], ErrorMapping] = {
    cls: ErrorMapping(cls.reason, code, http)
    for cls, code, http in [
        (TroveError, grpc.StatusCode.INTERNAL, 500),
        (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT, 400),
        (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED, 401),
        (QuotaExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED, 402),
        (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED, 403),
        (NotFoundError, grpc.StatusCode.NOT_FOUND, 404),
        (ConflictError, grpc.StatusCode.FAILED_PRECONDITION, 409),
        (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, 409),
        (PayloadTooLargeError, grpc.StatusCode.INVALID_ARGUMENT, 413),
        (UnsupportedMediaTypeError, grpc.StatusCode.INVALID_ARGUMENT, 415),
        (UnprocessableError, grpc.StatusCode.INVALID_ARGUMENT, 422),
        (UnavailableError, grpc.StatusCode.UNAVAILABLE, 503),
        (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    ]
}
_BY_REASON = {m.reason: cls for cls, m in _TABLE.items()}
_BY_CODE: dict[grpc.StatusCode, type[TroveError]] = {}
for _cls, _m in _TABLE.items():
    _BY_CODE.setdefault(_m.grpc_code, _cls)  # the first (most general) class owning a code wins


def mapping_for(exc: BaseException) -> ErrorMapping:
    """The mapping of the nearest class in the exception's MRO; unknown exceptions are internal errors."""
    for cls in type(exc).__mro__:
        found = _TABLE.get(cls)
        if found is not None:
            return found
    return _TABLE[TroveError]


def error_from_wire(*, code: grpc.StatusCode, reason: str | None, message: str) -> TroveError:
    """Rebuild the domain error a downstream service raised, from its gRPC status and reason metadata."""
    cls = _BY_REASON.get(reason or "") or _BY_CODE.get(code, TroveError)
    return cls(message)
