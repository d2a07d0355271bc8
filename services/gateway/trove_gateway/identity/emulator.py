"""`emulator` mode (development only): every token is checked with the Firebase Auth Emulator itself.

The emulator signs nothing (its tokens say `alg: none`), so a token proves nothing on its own: the gateway asks
the emulator whether the account exists and is enabled, and takes the admin role from the account's stored
custom claims, never from the token's body. The startup check keeps this mode on loopback and `demo-` projects.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from trove_common.errors import UnauthenticatedError, UnavailableError
from trove_gateway.identity._cache import TtlCache
from trove_gateway.identity._token import check_times, subject_claim, unverified_parts
from trove_gateway.identity.model import Identity, IdentityConfigError

logger = logging.getLogger(__name__)

# The emulator runs on this machine; its clock is ours, give or take scheduling.
_LEEWAY_S = 5
# The emulator's owner credential: admin access to every account of a demo project.
_OWNER = {"Authorization": "Bearer owner"}


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_emulator_startup(*, http_host: str, project_id: str) -> None:
    """Refuse emulator mode unless the gateway listens on loopback only and the project is a `demo-` one."""
    problems = []
    if not is_loopback(http_host):
        problems.append(f"TROVE_GATEWAY_HTTP__HOST={http_host!r} is not a loopback address (use 127.0.0.1)")
    if not project_id.startswith("demo-"):
        problems.append(f"TROVE_GATEWAY_FIREBASE__PROJECT_ID={project_id!r} does not start with 'demo-'")
    if problems:
        raise IdentityConfigError(
            "TROVE_GATEWAY_AUTH__MODE=emulator is for development on this machine only (the emulator's tokens are "
            "unsigned): " + "; ".join(problems) + ". To expose Trove, use mode oidc or firebase."
        )


@dataclass(frozen=True, slots=True)
class _Account:
    email: str
    disabled: bool
    admin: bool
    valid_since: int


def _account(user: dict[str, Any]) -> _Account:
    try:
        custom = json.loads(user.get("customAttributes") or "{}")
    except ValueError:
        custom = {}
    try:
        valid_since = int(user.get("validSince") or 0)
    except ValueError:
        valid_since = 0
    return _Account(
        email=str(user.get("email") or ""),
        disabled=user.get("disabled") is True,
        admin=isinstance(custom, dict) and custom.get("admin") is True,
        valid_since=valid_since,
    )


class EmulatorVerifier:
    """Checks tokens structurally (iss, aud, exp, iat, sub), then the account with the emulator (cached <= TTL)."""

    def __init__(self, *, emulator_host: str, project_id: str, identity_ttl_s: float, timeout_s: float = 5) -> None:
        self._project_id = project_id
        self._lookup_url = (
            f"http://{emulator_host}/identitytoolkit.googleapis.com/v1/projects/{project_id}/accounts:lookup"
        )
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=_OWNER)
        self._accounts: TtlCache[str, _Account] = TtlCache(ttl_s=identity_ttl_s)

    async def verify(self, token: str) -> Identity:
        _, claims = unverified_parts(token)
        if claims.get("aud") != self._project_id:
            raise UnauthenticatedError("the ID token is for another project")
        if claims.get("iss") != f"https://securetoken.google.com/{self._project_id}":
            raise UnauthenticatedError("the ID token has the wrong issuer")
        check_times(claims, now=time.time(), leeway_s=_LEEWAY_S)
        uid = subject_claim(claims)
        if claims.get("user_id", uid) != uid:
            raise UnauthenticatedError("the ID token is invalid")
        account = await self._lookup(uid)
        if account is None:
            raise UnauthenticatedError("no such account; sign in again")
        if account.disabled:
            raise UnauthenticatedError("this account has been disabled")
        if claims["iat"] < account.valid_since:
            raise UnauthenticatedError("the ID token has been revoked; sign in again")
        return Identity(subject=uid, email=account.email, admin=account.admin)

    async def _lookup(self, uid: str) -> _Account | None:
        cached = self._accounts.get(uid)
        if cached is not None:
            return cached
        try:
            response = await self._client.post(self._lookup_url, json={"localId": [uid]})
        except httpx.HTTPError as exc:
            logger.warning("auth emulator unreachable", extra={"error": repr(exc)})
            raise UnavailableError("cannot check the account with the auth emulator") from None
        if response.status_code != 200:
            logger.warning("auth emulator lookup failed", extra={"status": response.status_code})
            raise UnavailableError("cannot check the account with the auth emulator")
        users = response.json().get("users") or []
        if not users or users[0].get("localId") != uid:
            return None
        account = _account(users[0])
        self._accounts.put(uid, account)
        return account

    async def aclose(self) -> None:
        await self._client.aclose()
