"""Errors that trove_ml raises for input it cannot analyse."""

from __future__ import annotations


class MediaError(Exception):
    """The file cannot be analysed (corrupt, truncated, unsupported); retrying will not help."""
