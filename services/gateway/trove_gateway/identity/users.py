"""The mapping of a verified identity to a Trove user (through billing), kept no longer than the identity TTL."""

from __future__ import annotations

from dataclasses import dataclass

from trove_gateway.identity._cache import TtlCache
from trove_gateway.identity.model import Identity
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc


@dataclass(frozen=True, slots=True)
class Account:
    """The Trove user behind an identity, and their tier (whose rate limits apply)."""

    user_id: str
    tier: str


class UserDirectory:
    """Trove accounts of identities (by subject), asked of billing and kept for `ttl_s`."""

    def __init__(self, stub: billing_pb2_grpc.BillingServiceStub, *, ttl_s: float) -> None:
        self._stub = stub
        self._cache: TtlCache[str, Account] = TtlCache(ttl_s=ttl_s)

    async def account(self, identity: Identity) -> Account:
        cached = self._cache.get(identity.subject)
        if cached is not None:
            return cached
        response = await self._stub.EnsureUser(
            billing_pb2.EnsureUserRequest(firebase_uid=identity.subject, email=identity.email)
        )
        account = Account(user_id=response.user.user_id, tier=response.user.tier)
        self._cache.put(identity.subject, account)
        return account
