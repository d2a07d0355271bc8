"""Domain errors shared by every service, and the one table that maps them to gRPC codes and HTTP statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

logger = logging.getLogger(__name__)

# Details travel in gRPC metadata, which must stay small; larger details are dropped (the message remains).
MAX_DETAILS_CHARS = 4096


class TroveError(Exception):
    """Base of every domain error; anything else that escapes a handler is an internal error.

    Args:
        details: structured facts about the error (e.g. which quota, the usage and the limit); they travel with
            the error across gRPC and reach the REST client as `error.details`. JSON-serialisable values only.
    """

    reason = "internal"

    def __init__(self, message: str = "", *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})


class InvalidArgumentError(TroveError):
    reason = "invalid_argument"


class UnauthenticatedError(TroveError):
    reason = "unauthenticated"


class QuotaExceededError(TroveError):
    reason = "quota_exceeded"


class RateLimitedError(TroveError):
    """Too many requests in a short time; `details["retry_after_s"]` says when to try again."""

    reason = "rate_limited"


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
        (RateLimitedError, grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
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


def details_to_wire(exc: TroveError) -> str | None:
    """The error's details as compact ASCII JSON for gRPC metadata; None when there are none or too many."""
    if not exc.details:
        return None
    encoded = json.dumps(exc.details, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str)
    if len(encoded) > MAX_DETAILS_CHARS:
        logger.warning("error details too large to send", extra={"chars": len(encoded)})
        return None
    return encoded


def _details_from_wire(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def error_from_wire(
    *, code: grpc.StatusCode, reason: str | None, message: str, details: str | None = None
) -> TroveError:
    """Rebuild the domain error a downstream service raised, from its gRPC status and reason/details metadata."""
    cls = _BY_REASON.get(reason or "") or _BY_CODE.get(code, TroveError)
    return cls(message, details=_details_from_wire(details))
