"""Parsing the UUIDs that name users, uploads and media."""

from __future__ import annotations

import uuid

from trove_common.errors import InvalidArgumentError, NotFoundError, TroveError


def parse_id(value: str, *, what: str, error: type[TroveError] = InvalidArgumentError) -> str:
    """The canonical form of a UUID, or `error` naming `what`.

    Pass `error=NotFoundError` where an id comes from a URL: a malformed id is then "not found", the same
    answer as someone else's id, so ids leak nothing.
    """
    try:
        return str(uuid.UUID(value))
    except ValueError:
        message = f"{what} not found" if issubclass(error, NotFoundError) else f"{what} must be a UUID"
        raise error(message) from None
