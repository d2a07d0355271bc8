"""What the gateway's handlers share, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from trove_common.blobstore import LocalBlobStore
from trove_common.objectstore import ObjectStorage
from trove_gateway.backends import Backends
from trove_gateway.identity import Authenticator, UserDirectory
from trove_gateway.rate_limit import RateLimiter


@dataclass(frozen=True, slots=True)
class GatewayState:
    auth: Authenticator
    users: UserDirectory
    backends: Backends
    storage: ObjectStorage
    # The local backend's files behind /blobs/; None on s3, whose presigned URLs go to the bucket.
    blobs: LocalBlobStore | None
    limiter: RateLimiter
