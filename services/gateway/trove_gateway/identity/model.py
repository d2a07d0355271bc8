"""Who the caller is, and the one interface every identity mode implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller.

    Args:
        subject: the identity provider's stable id of the account (Firebase uid, OIDC `sub`).
        admin: the administrator role, from where the mode keeps it (never from an unverified token body).
    """

    subject: str
    email: str
    admin: bool = False


class TokenVerifier(Protocol):
    """Turns a bearer token into an Identity, or raises UnauthenticatedError (UnavailableError when it cannot ask)."""

    async def verify(self, token: str) -> Identity: ...

    async def aclose(self) -> None: ...


class IdentityConfigError(RuntimeError):
    """The identity settings are unsafe or incomplete; the gateway refuses to start."""
