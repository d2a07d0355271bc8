"""SQL for the billing schema; every function but `upsert_user` runs inside a user transaction (RLS)."""

from __future__ import annotations

from datetime import date

import asyncpg

from trove_billing.models import Alert, Cost, LedgerEntry, UsageTotals, User

_COLUMNS = "user_id::text, firebase_uid, email, tier, created_at"
# The billing period: the calendar month in UTC, named by its first day.
LOCAL_COMPUTE = "local-compute"
_PERIOD = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"


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


async def lock_user(conn: asyncpg.Connection, *, user_id: str) -> None:
    await conn.execute("SELECT 1 FROM billing.users WHERE user_id = $1::uuid FOR UPDATE", user_id)


async def insert_cost(conn: asyncpg.Connection, *, user_id: str, cost: Cost) -> bool:
    """Add a ledger row for this month; False when the idempotency key was recorded before."""
    inserted = await conn.fetchval(
        f"""INSERT INTO billing.cost_tracking
               (user_id, idempotency_key, media_id, stage, service, units, unit_price, amount, currency, billing_period)
           VALUES ($1::uuid, $2, $3::uuid, $4, $5, $6, $7, $8, $9, {_PERIOD})
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


async def set_tier(conn: asyncpg.Connection, *, user_id: str, tier: str) -> User | None:
    row = await conn.fetchrow(
        f"UPDATE billing.users SET tier = $2 WHERE user_id = $1::uuid RETURNING {_COLUMNS}", user_id, tier
    )
    return _user(row) if row else None


async def set_budget(conn: asyncpg.Connection, *, user_id: str, amount: float) -> None:
    await conn.execute(
        """INSERT INTO billing.budgets (user_id, amount) VALUES ($1::uuid, $2)
           ON CONFLICT (user_id) DO UPDATE SET amount = EXCLUDED.amount, updated_at = now()""",
        user_id,
        amount,
    )


async def own_budget(conn: asyncpg.Connection, *, user_id: str) -> float | None:
    """The budget an admin set for the user; None means the tier's default."""
    amount = await conn.fetchval("SELECT amount FROM billing.budgets WHERE user_id = $1::uuid", user_id)
    return None if amount is None else float(amount)


async def insert_usage(conn: asyncpg.Connection, *, user_id: str, media_id: str, size_bytes: int) -> bool:
    """Count a completed upload; False when this media file was counted before."""
    inserted = await conn.fetchval(
        f"""INSERT INTO billing.usage (user_id, media_id, size_bytes, billing_period)
            VALUES ($1::uuid, $2::uuid, $3, {_PERIOD})
            ON CONFLICT (user_id, media_id) DO NOTHING RETURNING true""",
        user_id,
        media_id,
        size_bytes,
    )
    return bool(inserted)


async def mark_deleted(conn: asyncpg.Connection, *, user_id: str, media_id: str) -> bool:
    """Stop counting a media file's bytes; False when it was not counted (or already deleted)."""
    updated = await conn.fetchval(
        """UPDATE billing.usage SET deleted_at = now()
           WHERE user_id = $1::uuid AND media_id = $2::uuid AND deleted_at IS NULL RETURNING true""",
        user_id,
        media_id,
    )
    return bool(updated)


async def set_derived_bytes(conn: asyncpg.Connection, *, user_id: str, media_id: str, size_bytes: int) -> bool:
    """Set the bytes of a held media file's derived files; False when the file is not counted (or deleted)."""
    updated = await conn.fetchval(
        """UPDATE billing.usage SET derived_bytes = $3
           WHERE user_id = $1::uuid AND media_id = $2::uuid AND deleted_at IS NULL RETURNING true""",
        user_id,
        media_id,
        size_bytes,
    )
    return bool(updated)


async def usage_totals(conn: asyncpg.Connection, *, user_id: str) -> UsageTotals:
    """Storage held now, and this period's uploads, compute seconds and spending (by service)."""
    row = await conn.fetchrow(
        f"""SELECT {_PERIOD} AS period,
                   (SELECT coalesce(sum(size_bytes + derived_bytes), 0) FROM billing.usage
                     WHERE user_id = $1::uuid AND deleted_at IS NULL)::bigint AS storage_bytes,
                   (SELECT count(*) FROM billing.usage
                     WHERE user_id = $1::uuid AND billing_period = {_PERIOD})::bigint AS uploads""",
        user_id,
    )
    costs = await conn.fetch(
        f"""SELECT service, sum(units) AS units, sum(amount) AS amount FROM billing.cost_tracking
            WHERE user_id = $1::uuid AND billing_period = {_PERIOD} GROUP BY service""",
        user_id,
    )
    by_service = {r["service"]: float(r["amount"]) for r in costs}
    return UsageTotals(
        period=row["period"],
        storage_bytes=row["storage_bytes"],
        uploads=row["uploads"],
        compute_s=sum(float(r["units"]) for r in costs if r["service"] == LOCAL_COMPUTE),
        cost_by_service=by_service,
        spent=sum(by_service.values()),
    )


async def insert_alert(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    period: date,
    threshold_pct: int,
    spent: float,
    budget: float,
    currency: str,
) -> bool:
    """Record that spending crossed `threshold_pct` of the budget; False when this period already has it."""
    inserted = await conn.fetchval(
        """INSERT INTO billing.budget_alerts (user_id, billing_period, threshold_pct, spent, budget, currency)
           VALUES ($1::uuid, $2, $3, $4, $5, $6)
           ON CONFLICT (user_id, billing_period, threshold_pct) DO NOTHING RETURNING true""",
        user_id,
        period,
        threshold_pct,
        spent,
        budget,
        currency,
    )
    return bool(inserted)


async def list_alerts(conn: asyncpg.Connection, *, user_id: str) -> list[Alert]:
    rows = await conn.fetch(
        """SELECT billing_period, threshold_pct, spent, budget, currency, created_at FROM billing.budget_alerts
           WHERE user_id = $1::uuid ORDER BY created_at DESC, threshold_pct DESC LIMIT 240""",
        user_id,
    )
    return [
        Alert(
            period=r["billing_period"],
            threshold_pct=r["threshold_pct"],
            spent=float(r["spent"]),
            budget=float(r["budget"]),
            currency=r["currency"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def list_costs(conn: asyncpg.Connection, *, user_id: str, limit: int, before: int | None) -> list[LedgerEntry]:
    """Newest first; `before` is the cost id of the last entry of the previous page."""
    rows = await conn.fetch(
        """SELECT cost_id, media_id::text, stage, service, units, unit_price, amount, currency, billing_period,
                  created_at
           FROM billing.cost_tracking
           WHERE user_id = $1::uuid AND ($3::bigint IS NULL OR cost_id < $3)
           ORDER BY cost_id DESC LIMIT $2""",
        user_id,
        limit,
        before,
    )
    return [
        LedgerEntry(
            cost_id=r["cost_id"],
            media_id=r["media_id"],
            stage=r["stage"],
            service=r["service"],
            units=float(r["units"]),
            unit_price=float(r["unit_price"]),
            amount=float(r["amount"]),
            currency=r["currency"],
            period=r["billing_period"],
            created_at=r["created_at"],
        )
        for r in rows
    ]
