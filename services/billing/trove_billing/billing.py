"""Billing rules: who a Firebase identity is in Trove."""

from __future__ import annotations

import math
import uuid

import asyncpg

from trove_billing import repo
from trove_billing.models import Cost, Limits, User
from trove_billing.settings import Tiers
from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError

MAX_UID_CHARS = 128
MAX_EMAIL_CHARS = 320


MAX_KEY_CHARS = 200


class Billing:
    """Users, their tiers' limits, and the ledger of what their analysis cost."""

    def __init__(self, *, pool: asyncpg.Pool, tiers: Tiers, prices: dict[str, float], currency: str) -> None:
        self._pool = pool
        self._tiers = tiers
        self._prices = prices
        self._currency = currency

    async def ensure_user(self, *, firebase_uid: str, email: str) -> tuple[User, bool]:
        if not firebase_uid or len(firebase_uid) > MAX_UID_CHARS:
            raise InvalidArgumentError(f"firebase_uid must be 1-{MAX_UID_CHARS} characters")
        if len(email) > MAX_EMAIL_CHARS:
            raise InvalidArgumentError(f"email must be at most {MAX_EMAIL_CHARS} characters")
        # No user id exists yet: row-level security admits the row through app.firebase_uid instead.
        async with self._pool.acquire() as conn, conn.transaction():
            return await repo.upsert_user(conn, firebase_uid=firebase_uid, email=email)

    async def get_user(self, *, user_id: str) -> User:
        async with user_transaction(self._pool, user_id) as conn:
            user = await repo.get_user(conn, user_id=user_id)
        if user is None:
            raise NotFoundError("user not found")
        return user

    def limits(self, tier: str) -> Limits:
        limits = self._tiers.of(tier)
        return Limits(max_media_duration_s=limits.max_media_duration_s, max_file_bytes=limits.max_file_bytes)

    async def record_cost(
        self, *, user_id: str, idempotency_key: str, media_id: str, stage: str, service: str, units: float
    ) -> tuple[Cost, bool]:
        """Price one provider call and add it to the ledger once, however often it is reported."""
        if not idempotency_key or len(idempotency_key) > MAX_KEY_CHARS:
            raise InvalidArgumentError(f"idempotency_key must be 1-{MAX_KEY_CHARS} characters")
        if service not in self._prices:
            raise InvalidArgumentError(f"service must be one of {', '.join(sorted(self._prices))}")
        if not math.isfinite(units) or units < 0:
            raise InvalidArgumentError("units must be a finite number >= 0")
        if media_id:
            try:
                media_id = str(uuid.UUID(media_id))
            except ValueError:
                raise InvalidArgumentError("media_id must be a UUID") from None
        price = self._prices[service]
        cost = Cost(
            idempotency_key=idempotency_key,
            media_id=media_id or None,
            stage=stage,
            service=service,
            units=units,
            unit_price=price,
            amount=units * price,
            currency=self._currency,
        )
        async with user_transaction(self._pool, user_id) as conn:
            recorded = await repo.insert_cost(conn, user_id=user_id, cost=cost)
        return cost, recorded
