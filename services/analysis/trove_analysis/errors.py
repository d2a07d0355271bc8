"""The analysis service's domain exceptions."""

from __future__ import annotations

from trove_ml.errors import MediaError


class StageRetryError(Exception):
    """A stage failed transiently and has tries left: run it again after a backoff (the worker schedules it)."""

    def __init__(self, *, stage: str, tries: int, error: str) -> None:
        super().__init__(f"stage {stage} failed (try {tries}): {error}")
        self.stage = stage
        self.tries = tries


class ProviderSetupError(MediaError):
    """A provider refused for a reason of configuration (bad credentials, a missing bucket): the stage fails at
    once, like bad media, since no retry helps until the setting that the message names is fixed."""
