"""Errors that trove_ml raises for input it cannot analyse."""

from __future__ import annotations

from trove_common.errors import UnavailableError


class MediaError(Exception):
    """The file cannot be analysed (corrupt, truncated, unsupported); retrying will not help."""


class ModelFolderError(ValueError):
    """A model folder the user supplied is missing files or holds a model of an unsupported kind."""


class ProviderSettingError(UnavailableError, MediaError):
    """A provider refused our configuration (a bad API key, an unknown model): retrying will not help.

    The message names the setting to fix. As a MediaError the analysis stage fails at once; as an UnavailableError
    a search that needed the provider answers 503 through the error table.
    """


class ProviderUnavailableError(UnavailableError):
    """A provider could not answer (unreachable, throttled past its retries, a server error): worth another try."""
