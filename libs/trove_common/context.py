"""Per-request context (correlation id, calling user) carried in contextvars across awaits."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

from trove_common.errors import PermissionDeniedError

request_id_var: ContextVar[str] = ContextVar("trove_request_id", default="")
user_id_var: ContextVar[str] = ContextVar("trove_user_id", default="")
# True when the gateway vouched that the caller is an administrator (the `admin` claim on their token).
admin_var: ContextVar[bool] = ContextVar("trove_admin", default=False)

# gRPC metadata keys; the gateway sets them, internal services read them.
USER_ID_KEY = "x-trove-user-id"
REQUEST_ID_KEY = "x-request-id"
# Set (to "1") only by the gateway, only on calls it makes for a verified admin; never forwarded onwards.
ADMIN_KEY = "x-trove-admin"
# Metadata for a call made on behalf of a verified administrator.
ADMIN_METADATA = ((ADMIN_KEY, "1"),)
# Every internal call names its calling service and proves it with that service's token (see ServiceAuthSettings).
CALLER_KEY = "x-trove-caller"
SERVICE_TOKEN_KEY = "x-trove-service-token"


def new_request_id() -> str:
    """A fresh correlation id."""
    return uuid.uuid4().hex


def require_admin(*, action: str) -> None:
    """Raise PermissionDeniedError unless the call was made for a verified administrator (see `admin_var`)."""
    if not admin_var.get():
        raise PermissionDeniedError(f"only an administrator may {action}")
