"""`firebase` mode: Google-signed Firebase ID tokens, checked by firebase-admin (signature, aud, iss, exp, iat,
auth_time), and, when configured, whether the account is disabled or its tokens revoked (cached <= the TTL)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin import credentials as firebase_credentials
from firebase_admin import exceptions as firebase_exceptions
from google.auth.credentials import AnonymousCredentials

from trove_common.errors import UnauthenticatedError, UnavailableError
from trove_gateway.identity._cache import TtlCache
from trove_gateway.identity._token import subject_claim, unverified_parts
from trove_gateway.identity.model import Identity

logger = logging.getLogger(__name__)

# Allowed clock difference with Google's servers (firebase-admin accepts 0-60).
_CLOCK_SKEW_S = 10


class _VerifyOnly(firebase_credentials.Base):  # type: ignore[misc]
    """No credentials: checking an ID token's signature needs only Google's public keys."""

    def get_credential(self) -> Any:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class _Account:
    disabled: bool
    valid_after_s: float  # tokens issued (iat) before this were revoked


class FirebaseVerifier:
    """Real Firebase projects; no Auth Emulator (main refuses FIREBASE_AUTH_EMULATOR_HOST in this mode)."""

    def __init__(self, *, project_id: str, check_revoked: bool, identity_ttl_s: float, timeout_s: float = 10) -> None:
        self._project_id = project_id
        self._check_revoked = check_revoked
        self._timeout_s = timeout_s
        # Looking accounts up (check_revoked) needs the service account's credentials (Application Default
        # Credentials: GOOGLE_APPLICATION_CREDENTIALS or the platform's); verifying signatures needs none.
        credential = firebase_credentials.ApplicationDefault() if check_revoked else _VerifyOnly()
        self._app = firebase_admin.initialize_app(
            credential, options={"projectId": project_id}, name=f"trove-{id(self)}"
        )
        self._accounts: TtlCache[str, _Account] = TtlCache(ttl_s=identity_ttl_s)

    async def verify(self, token: str) -> Identity:
        header, claims = unverified_parts(token)
        # Offline checks first: a token that cannot be Google's never costs a key fetch.
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise UnauthenticatedError("the ID token is not signed by Firebase")
        if claims.get("aud") != self._project_id:
            raise UnauthenticatedError("the ID token is for another project")
        subject_claim(claims)
        verified = await self._verify_signed(token)
        uid = subject_claim(verified)
        if self._check_revoked:
            account = await self._account(uid)
            if account.disabled:
                raise UnauthenticatedError("this account has been disabled")
            # firebase-admin's own check_revoked compares iat with the account's tokens-valid-after time.
            if verified["iat"] < account.valid_after_s:
                raise UnauthenticatedError("the ID token has been revoked; sign in again")
        email = verified.get("email")
        return Identity(subject=uid, email=email if isinstance(email, str) else "", admin=verified.get("admin") is True)

    async def _verify_signed(self, token: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._timeout_s):
                claims: dict[str, Any] = await asyncio.to_thread(
                    firebase_auth.verify_id_token, token, self._app, clock_skew_seconds=_CLOCK_SKEW_S
                )
        except TimeoutError:
            raise UnavailableError("cannot fetch Firebase's signing keys") from None
        except firebase_auth.ExpiredIdTokenError:
            raise UnauthenticatedError("the ID token has expired; refresh it and try again") from None
        except firebase_auth.CertificateFetchError:
            raise UnavailableError("cannot fetch Firebase's signing keys") from None
        except (ValueError, firebase_auth.InvalidIdTokenError) as exc:
            logger.info("rejected ID token", extra={"reason": str(exc)[:200]})
            raise UnauthenticatedError("the ID token is invalid") from None
        return claims

    async def _account(self, uid: str) -> _Account:
        cached = self._accounts.get(uid)
        if cached is not None:
            return cached
        try:
            async with asyncio.timeout(self._timeout_s):
                user = await asyncio.to_thread(firebase_auth.get_user, uid, self._app)
        except firebase_auth.UserNotFoundError:
            raise UnauthenticatedError("no such account; sign in again") from None
        except (TimeoutError, firebase_exceptions.FirebaseError) as exc:
            logger.warning("firebase account lookup failed", extra={"error": repr(exc)[:200]})
            raise UnavailableError("cannot check the account with Firebase") from None
        valid_after_ms = user.tokens_valid_after_timestamp or 0
        account = _Account(disabled=bool(user.disabled), valid_after_s=valid_after_ms / 1000)
        self._accounts.put(uid, account)
        return account

    async def aclose(self) -> None:
        firebase_admin.delete_app(self._app)
