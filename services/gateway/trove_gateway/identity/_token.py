"""Taking a bearer token apart safely: size cap, three base64url segments, JSON objects, typed claims."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from trove_common.errors import UnauthenticatedError

# Subjects become billing's `firebase_uid`, which holds at most this many characters.
MAX_SUBJECT_CHARS = 128
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")
INVALID = "the ID token is invalid"


def bearer_token(header: str | None, *, max_bytes: int) -> str:
    """The token of an `Authorization: Bearer <token>` header, refused before parsing when malformed or too long."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthenticatedError("sign in first: send 'Authorization: Bearer <ID token>'")
    if len(token) > max_bytes:
        raise UnauthenticatedError(f"the ID token is longer than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.match(p) for p in parts) or not parts[0] or not parts[1]:
        raise UnauthenticatedError(INVALID)
    return token


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise UnauthenticatedError(INVALID) from None
    if not isinstance(value, dict):
        raise UnauthenticatedError(INVALID)
    return value


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWT, NOT verified: only for structural checks and choosing a key."""
    header, claims, _ = token.split(".")
    return _json_object(header), _json_object(claims)


def int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnauthenticatedError(f"the ID token has no valid '{name}'")
    return value


def subject_claim(claims: dict[str, Any]) -> str:
    value = claims.get("sub")
    if not isinstance(value, str) or not value or len(value) > MAX_SUBJECT_CHARS:
        raise UnauthenticatedError("the ID token has no valid 'sub'")
    return value


def check_times(claims: dict[str, Any], *, now: float, leeway_s: float) -> None:
    """exp in the future, iat (and nbf, when present) not in the future, all within `leeway_s`."""
    exp = int_claim(claims, "exp")
    iat = int_claim(claims, "iat")
    if exp + leeway_s <= now:
        raise UnauthenticatedError("the ID token has expired; refresh it and try again")
    if iat - leeway_s > now:
        raise UnauthenticatedError("the ID token is issued in the future")
    if "nbf" in claims and int_claim(claims, "nbf") - leeway_s > now:
        raise UnauthenticatedError("the ID token is not valid yet")
