"""Per-request context (correlation id, calling user) carried in contextvars across awaits."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("trove_request_id", default="")
user_id_var: ContextVar[str] = ContextVar("trove_user_id", default="")
# True when the gateway vouched that the caller is an administrator (the `admin` claim on their token).
admin_var: ContextVar[bool] = ContextVar("trove_admin", default=False)

# gRPC metadata keys; the gateway sets them, internal services read them.
USER_ID_KEY = "x-trove-user-id"
REQUEST_ID_KEY = "x-request-id"
# Set (to "1") only by the gateway, only on calls it makes for a verified admin; never forwarded onwards.
ADMIN_KEY = "x-trove-admin"


def new_request_id() -> str:
    """A fresh correlation id."""
    return uuid.uuid4().hex
