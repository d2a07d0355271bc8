"""What the gateway's handlers share, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from trove_common.blobstore import LocalBlobStore
from trove_gateway.auth import TokenVerifier, UserDirectory
from trove_gateway.backends import Backends
from trove_gateway.rate_limit import RateLimiter


@dataclass(frozen=True, slots=True)
class GatewayState:
    verifier: TokenVerifier
    users: UserDirectory
    backends: Backends
    store: LocalBlobStore
    limiter: RateLimiter
