"""REST request bodies and query parameters, validated at the edge with errors that name the field."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request

from trove_common.errors import InvalidArgumentError

MAX_BODY_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)


class CreateUploadBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    filename: str = Field(min_length=1)
    content_type: str = Field(min_length=1)
    size_bytes: int


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        return f"{field} is required"
    return f"{field}: {first['msg']}"


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidArgumentError(f"the request body must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgumentError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgumentError(_describe(exc)) from None


def int_param(params: QueryParams, name: str, *, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer") from None
