"""Loaded by schemathesis (SCHEMATHESIS_HOOKS=fuzz_hooks): every request the fuzzer sends comes from an address of
its own.

The session gateway trusts 127.0.0.1 as a proxy, so X-Forwarded-For names the client. With an address per request
the per-address buckets never limit the fuzzer (its user's buckets are widened by its tier instead), and the suite's
other tests keep theirs. The header is added where requests sends, below schemathesis' own bookkeeping of what a
test case holds (so its checks for missing authentication still see the request they built).
"""

from __future__ import annotations

import itertools
from typing import Any

import requests.adapters

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
