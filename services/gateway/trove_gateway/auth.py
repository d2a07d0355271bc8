"""Firebase ID-token verification and the mapping of a Firebase identity to a Trove user (through billing)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import firebase_admin
from firebase_admin import auth as firebase_auth
from starlette.requests import Request

from trove_common.errors import UnauthenticatedError
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    firebase_uid: str
    email: str
    admin: bool = False  # the `admin` custom claim on the Firebase token


class TokenVerifier:
    """Checks Firebase ID tokens (signature, audience = project, expiry) with firebase-admin.

    firebase-admin talks to the Auth Emulator when FIREBASE_AUTH_EMULATOR_HOST is set in the environment;
    main sets it from our settings before this is built.
    """

    def __init__(self, project_id: str) -> None:
        self._app = firebase_admin.initialize_app(options={"projectId": project_id}, name=f"trove-{id(self)}")

    async def verify(self, request: Request) -> Identity:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("sign in first: send 'Authorization: Bearer <Firebase ID token>'")
        try:
            claims = await asyncio.to_thread(firebase_auth.verify_id_token, token.strip(), self._app)
        except firebase_auth.ExpiredIdTokenError:
            raise UnauthenticatedError("the ID token has expired; refresh it and try again") from None
        except (ValueError, firebase_auth.InvalidIdTokenError, firebase_auth.CertificateFetchError) as exc:
            logger.info("rejected ID token", extra={"reason": str(exc)[:200]})
            raise UnauthenticatedError("the ID token is invalid") from None
        # firebase-admin skips the expiry check for Auth Emulator tokens; check it ourselves for both kinds.
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise UnauthenticatedError("the ID token has expired; refresh it and try again")
        return Identity(
            firebase_uid=str(claims["uid"]), email=str(claims.get("email", "")), admin=claims.get("admin") is True
        )

    def close(self) -> None:
        firebase_admin.delete_app(self._app)


@dataclass(frozen=True, slots=True)
class Account:
    """The Trove user behind an identity, and their tier (whose rate limits apply)."""

    user_id: str
    tier: str


class UserDirectory:
    """Trove accounts of Firebase identities, asked of billing and kept for a while."""

    def __init__(self, stub: billing_pb2_grpc.BillingServiceStub, *, ttl_s: float) -> None:
        self._stub = stub
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[Account, float]] = {}

    async def account(self, identity: Identity) -> Account:
        cached = self._cache.get(identity.firebase_uid)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        response = await self._stub.EnsureUser(
            billing_pb2.EnsureUserRequest(firebase_uid=identity.firebase_uid, email=identity.email)
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        account = Account(user_id=response.user.user_id, tier=response.user.tier)
        self._cache[identity.firebase_uid] = (account, time.monotonic() + self._ttl_s)
        return account
