"""Analysis domain errors."""

from __future__ import annotations

from trove_common.errors import UnprocessableError


class MediaError(UnprocessableError):
    """The file cannot be analysed (corrupt, truncated, too large to decode); retrying will not help."""
