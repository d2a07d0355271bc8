"""Billing rules: who a Firebase identity is in Trove."""

from __future__ import annotations

import asyncpg

from trove_billing import repo
from trove_billing.models import User
from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError

MAX_UID_CHARS = 128
MAX_EMAIL_CHARS = 320


class Billing:
    """Users and (later) tiers, quotas and costs."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
