"""Turns model outputs (dataclasses, numpy arrays, datetimes, tuples) into plain JSON values for stage results."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A JSON-serialisable copy of `value`; floats are rounded to keep stored results small."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [round(float(x), 5) for x in value.ravel()]
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
