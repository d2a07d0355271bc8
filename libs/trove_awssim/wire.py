"""AWS's JSON 1.1 protocol: targets in X-Amz-Target, errors as `__type`, and the SigV4 credential's access key id."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.responses import Response

CONTENT_TYPE = "application/x-amz-json-1.1"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class AwsError(Exception):
    """An error answered in the wire format: `__type` is the code botocore raises as ClientError."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def answer(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": str(uuid.uuid4())})


def error(exc: AwsError) -> Response:
    return Response(
        json.dumps({"__type": exc.code, "message": exc.message}),
        status_code=exc.status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": exc.code},
    )


def access_key_id(authorization: str) -> str | None:
    """The access key id in a SigV4 Authorization header (`Credential=AKID/date/region/service/aws4_request`)."""
    found = _CREDENTIAL.search(authorization)
    return found.group(1) if found else None


def field(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise AwsError("InvalidParameterException", f"1 validation error detected: {name} must not be null")
    return body[name]
