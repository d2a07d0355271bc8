"""Loaded by schemathesis (SCHEMATHESIS_HOOKS=fuzz_hooks): every request the fuzzer sends comes from an address of
its own, and an upload it creates for a JPEG gets its bytes.

The session gateway trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the client. With an address per request
the per-address buckets never limit the fuzzer (its user's buckets are widened by its tier instead), and the suite's
other tests keep theirs. The header is added where requests sends, below schemathesis' own bookkeeping of what a
test case holds (so its checks for missing authentication still see the request they built).
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import requests
import requests.adapters
import schemathesis

_numbers = itertools.count()
_send = requests.adapters.HTTPAdapter.send


def _send_from_an_address_of_its_own(
    self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any
) -> requests.Response:
    n = next(_numbers)
    # 198.18.0.0/15: the benchmarking range, no real client's.
    request.headers["X-Forwarded-For"] = f"198.18.{n // 250 % 250}.{n % 250 + 1}"
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _send_from_an_address_of_its_own  # type: ignore[method-assign]


def _jpeg() -> bytes:
    from PIL import Image  # the fuzzer's process only

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


_JPEG = _jpeg()
_MAX_PUT_BYTES = 4 * 1024 * 1024


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Do what a client does between createUpload and completeUpload: PUT the bytes to the signed URL (a JPEG,
    padded to the declared size), so the stateful links complete -> get -> search -> delete reach real media."""
    if case.method.upper() != "POST" or case.path != "/api/v1/uploads" or response.status_code != 201:
        return
    body = case.body if isinstance(case.body, dict) else {}
    size = body.get("size_bytes")
    if body.get("content_type") != "image/jpeg" or not isinstance(size, int):
        return
    if not len(_JPEG) <= size <= _MAX_PUT_BYTES:
        return
    ticket = response.json()
    data = _JPEG + b"\0" * (size - len(_JPEG))
    requests.request(ticket["method"], ticket["upload_url"], data=data, headers=ticket["headers"], timeout=30)
