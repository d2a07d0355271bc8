"""REST request bodies and query parameters, validated at the edge with errors that name the field.

Everything a client sends is bounded here before it reaches a service: the body's size and JSON nesting depth,
integers to the range of the protobuf field they fill, strings free of NUL and lone surrogates (PostgreSQL and
protobuf refuse both). The same models describe the requests in the OpenAPI document (trove_gateway.openapi).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import QueryParams
from starlette.requests import Request

from trove_common.errors import InvalidArgumentError, PayloadTooLargeError
from trove_common.media_types import ALLOWED_TYPES

# Defaults of the edge limits (Settings.limits); the JSON bodies of this API are a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_QUERY_CHARS = 512  # search's own limit on q
MAX_PARAM_CHARS = 2048  # any other query parameter (cursors are short base64)
MAX_FILENAME_CHARS = 255
MEDIA_KINDS = ("image", "video", "audio", "document")

M = TypeVar("M", bound=BaseModel)

_ASCII_INT = re.compile(r"[0-9]{1,20}", re.ASCII)
_ASCII_SIGNED_INT = re.compile(r"[+-]?[0-9]{1,20}", re.ASCII)


class CreateUploadBody(BaseModel):
    """A file about to be uploaded: its name, its declared type and its exact size."""

    model_config = ConfigDict(extra="ignore", strict=True)

    filename: str = Field(
        min_length=1,
        max_length=MAX_FILENAME_CHARS,
        pattern=r"^[^/\\\x00-\x1f\x7f-\x9f]+$",
        description="a plain file name without path separators or control characters",
        examples=["holiday.jpg"],
    )
    content_type: str = Field(
        min_length=1,
        max_length=255,
        description=f"one of {', '.join(ALLOWED_TYPES)} (others are refused with 415)",
        examples=["image/jpeg"],
    )
    size_bytes: int = Field(ge=1, le=INT64_MAX, description="the file's exact size", examples=[123456])


class PageQuery(BaseModel):
    """A page of a list: at most `limit` items after `cursor` (the previous page's `next_cursor`)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=100, description="items per page")
    cursor: str = Field(default="", max_length=MAX_PARAM_CHARS, description="next_cursor of the previous page")


class LimitQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=50, ge=1, le=100, description="most items to return")


class SimilarQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100, description="most results to return")


class DeadLettersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=100, ge=1, le=500, description="most dead letters to return")


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


class SearchQuery(BaseModel):
    """Query parameters of GET /api/v1/search."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    q: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S", description="words or a phrase to look for (not blank)"
    )
    limit: int = Field(default=20, ge=1, le=100, description="results per page")
    cursor: str = Field(default="", max_length=MAX_PARAM_CHARS, description="next_cursor of the previous page")
    kind: list[Literal["image", "video", "audio", "document"]] = Field(
        default_factory=list, description="only these kinds of media (repeat the parameter for several)"
    )
    date_field: Literal["taken", "uploaded"] | None = Field(default=None, description="the date from/to filter on")
    date_from: str = Field(
        default="",
        alias="from",
        max_length=64,
        description="ISO 8601 date or time, like 2024-05-31 (earliest, inclusive)",
    )
    date_to: str = Field(
        default="", alias="to", max_length=64, description="ISO 8601 date or time (latest; a date: the whole day)"
    )
    has_faces: Literal["true", "false"] | None = Field(default=None, description="only media with (or without) faces")
    language: str = Field(
        default="", pattern=r"^([A-Za-z]{2})?$", description="a two-letter ISO 639-1 language code, like en"
    )
    sort: Literal["relevance", "date"] = "relevance"
    tz: str = Field(
        default="",
        max_length=64,
        pattern=r"^([A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*)?$",
        description="the user's IANA time zone, like Europe/Paris, that dates in q are read in (default UTC)",
    )
    person: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="only media showing one of these people (person ids; a video: the moments they are in)",
    )
    literal: list[Literal["kinds", "dates", "people", "all"]] = Field(
        default_factory=list,
        description="parts of q taken literally instead of as filters (kinds, dates, people, or all); "
        "the default reads kinds of media, dates and people named in q as filters",
    )

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value and value not in _zone_names():
            raise ValueError("must be an IANA time zone name, like Europe/Paris")
        return value


_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


class PeopleQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hidden: bool = Field(default=False, description="include the people the user hid")


class PersonBody(BaseModel):
    """What to change about a person; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, max_length=100, description="their name (empty: unnamed)")
    hidden: bool | None = Field(default=None, description="hide them from the people list")


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    other_person_id: str = Field(pattern=_UUID, description="the person whose faces join this one; gone afterwards")


class MoveFaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    person_id: str | None = Field(
        default=None, pattern=_UUID, description="the person the face belongs to; null or absent: a new person"
    )


class BlobQuery(BaseModel):
    """The signature of a signed blob URL (made by the blob store; clients use the URL as it is)."""

    model_config = ConfigDict(extra="ignore")

    expires: str = Field(pattern=r"^[0-9]{1,20}$", description="Unix time the URL stops working")
    max_bytes: str = Field(default="0", pattern=r"^[0-9]{1,20}$", description="the most bytes a PUT may send")
    signature: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of method, key, expires and max_bytes")


class TierBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tier: str = Field(min_length=1, max_length=40, examples=["pro"])


MAX_BUDGET = 1_000_000


class BudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Python's JSON parser accepts NaN and Infinity literals; a budget must be a real number.
    amount: float = Field(ge=0, le=MAX_BUDGET, allow_inf_nan=False, description="monthly budget, ledger currency")


def ascii_int(value: str) -> bool:
    """Whether `value` is a plain integer in ASCII digits (str.isdigit and int() also take other scripts' digits)."""
    return _ASCII_INT.fullmatch(value) is not None


def _describe(error: ValidationError, model: type[BaseModel]) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        return f"{field} is required"
    if first["type"] == "string_pattern_mismatch":
        # "should match pattern '\S'" tells a person little; the field's description says what it takes.
        name = str(first["loc"][0])
        info = model.model_fields.get(name) or next((f for f in model.model_fields.values() if f.alias == name), None)
        if info is not None and info.description:
            return f"{field} must be {info.description}"
    return f"{field}: {first['msg']}"


def check_text(value: str, *, name: str) -> str:
    """`value`, unless it holds a NUL or a lone surrogate (which no database column or protobuf string takes)."""
    if "\x00" in value:
        raise InvalidArgumentError(f"{name} must not contain NUL characters")
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise InvalidArgumentError(f"{name} must be valid Unicode (it has a lone surrogate)")
    return value


def _check_strings(value: Any, *, name: str) -> None:
    if isinstance(value, str):
        check_text(value, name=name)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, name=f"{name} key")
            _check_strings(item, name=f"{name}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, name=name)


def json_depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `max_depth` (checked before parsing, which recurses)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _limits(request: Request) -> tuple[int, int]:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return MAX_BODY_BYTES, MAX_JSON_DEPTH
    return settings.limits.max_json_bytes, settings.limits.max_json_depth


async def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body as `model`: at most the configured bytes (413) and depth, UTF-8 text without NUL or surrogates."""
    max_bytes, max_depth = _limits(request)
    declared = request.headers.get("content-length", "")
    if declared and (not ascii_int(declared) or int(declared) > max_bytes):
        raise PayloadTooLargeError(f"the request body must be at most {max_bytes} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise PayloadTooLargeError(f"the request body must be at most {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if json_depth_exceeds(raw, max_depth):
        raise InvalidArgumentError(f"the request body nests deeper than {max_depth} levels")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidArgumentError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    _check_strings(data, name="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgumentError(_describe(exc, model)) from None


def _fields_of(model: type[BaseModel], kind: type) -> Iterable[str]:
    for name, field in model.model_fields.items():
        if field.annotation is kind or getattr(field.annotation, "__origin__", None) is kind:
            yield field.alias or name


def parse_query(params: QueryParams, model: type[M]) -> M:
    """The query parameters as `model`; errors name them.

    A list field takes every value, each split at commas. An empty value is a value (`limit=` is not an integer),
    as the document says; clients leave out what they do not mean to send.
    """
    lists, ints = set(_fields_of(model, list)), set(_fields_of(model, int))
    data: dict[str, Any] = {}
    for name, value in params.multi_items():
        check_text(value, name=name)
        if len(value) > MAX_PARAM_CHARS:
            raise InvalidArgumentError(f"{name} must be at most {MAX_PARAM_CHARS} characters")
        if name in lists:
            data.setdefault(name, []).extend(v.strip() for v in value.split(",") if v.strip())
        elif name in data:
            raise InvalidArgumentError(f"{name} must be given once")
        else:
            data[name] = value
    for name in ints & set(data):
        # ASCII digits only: int() also takes other scripts' digits, which no client means.
        if not _ASCII_SIGNED_INT.fullmatch(data[name]):
            raise InvalidArgumentError(f"{name} must be an integer")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgumentError(_describe(exc, model)) from None
