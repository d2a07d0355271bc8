"""SQL for billing.users."""

from __future__ import annotations

import asyncpg

from trove_billing.models import Cost, User

_COLUMNS = "user_id::text, firebase_uid, email, tier, created_at"


def _user(row: asyncpg.Record) -> User:
    return User(
        user_id=row["user_id"],
        firebase_uid=row["firebase_uid"],
        email=row["email"],
        tier=row["tier"],
        created_at=row["created_at"],
    )


async def upsert_user(conn: asyncpg.Connection, *, firebase_uid: str, email: str) -> tuple[User, bool]:
    """The user with this Firebase uid, created if new; the flag says whether it was created."""
    await conn.execute("SELECT set_config('app.firebase_uid', $1, true)", firebase_uid)
    row = await conn.fetchrow(
        f"""INSERT INTO billing.users (firebase_uid, email) VALUES ($1, $2)
            ON CONFLICT (firebase_uid) DO NOTHING RETURNING {_COLUMNS}""",
        firebase_uid,
        email,
    )
    if row is not None:
        return _user(row), True
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM billing.users WHERE firebase_uid = $1", firebase_uid)
    assert row is not None
    if email and row["email"] != email:
        row = await conn.fetchrow(
            f"UPDATE billing.users SET email = $2 WHERE firebase_uid = $1 RETURNING {_COLUMNS}", firebase_uid, email
        )
    return _user(row), False


async def get_user(conn: asyncpg.Connection, *, user_id: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM billing.users WHERE user_id = $1::uuid", user_id)
    return _user(row) if row else None


async def insert_cost(conn: asyncpg.Connection, *, user_id: str, cost: Cost) -> bool:
    """Add a ledger row for this month; False when the idempotency key was recorded before."""
    inserted = await conn.fetchval(
        """INSERT INTO billing.cost_tracking
               (user_id, idempotency_key, media_id, stage, service, units, unit_price, amount, currency, billing_period)
           VALUES ($1::uuid, $2, $3::uuid, $4, $5, $6, $7, $8, $9, date_trunc('month', now())::date)
           ON CONFLICT (user_id, idempotency_key) DO NOTHING
           RETURNING true""",
        user_id,
        cost.idempotency_key,
        cost.media_id,
        cost.stage,
        cost.service,
        cost.units,
        cost.unit_price,
        cost.amount,
        cost.currency,
    )
    return bool(inserted)
