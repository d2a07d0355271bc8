"""The one place stage results turn into the JSON stored in analysis.stage_results, and back.

Results are frozen dataclasses of strings, numbers, booleans, tuples, optional values and nested results. A field
left at its default when a provider (or an older row) lacks its key decodes to that default; a field whose value
is None and whose default is None is left out of the JSON, as the providers' own output leaves it out.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

R = TypeVar("R")


class ResultShapeError(ValueError):
    """A stored or computed result does not have the shape of its stage's result type."""


def encode(value: Any) -> Any:
    """A JSON value for a result (or any part of one)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.default is None:
                continue
            out[f.name] = encode(item)
        return out
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(cls: type[R], data: Any) -> R:
    """The result of type `cls` that `data` (a JSON object) describes; ResultShapeError when it does not fit."""
    value: R = _decode(cls, data, cls.__name__)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, data: Any, where: str) -> Any:  # noqa: C901 - one branch per kind of type
    if tp is Any:
        return data
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(data, dict):
            raise ResultShapeError(f"{where}: expected an object, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ResultShapeError(f"{where}: {f.name} is missing")
        return tp(**kwargs)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, data, where)
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise ResultShapeError(f"{where}: expected a list, got {type(data).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise ResultShapeError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ResultShapeError(f"{where}: expected a number, got {data!r}")
        return data
    if tp in (str, int, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise ResultShapeError(f"{where}: expected {tp.__name__}, got {data!r}")
        return data
    raise TypeError(f"{where}: results cannot hold {tp!r}")
