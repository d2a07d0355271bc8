"""Errors that trove_ml raises for input it cannot analyse."""

from __future__ import annotations


class MediaError(Exception):
    """The file cannot be analysed (corrupt, truncated, unsupported); retrying will not help."""


class ModelFolderError(ValueError):
    """A model folder the user supplied is missing files or holds a model of an unsupported kind."""
