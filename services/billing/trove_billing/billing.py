"""Billing rules: users and tiers, quotas before work, the cost ledger, and monthly budgets that alert and block."""

from __future__ import annotations

import base64
import logging
import math

import asyncpg

from trove_billing import repo
from trove_billing.models import Alert, Cost, LedgerPage, Usage, User
from trove_billing.settings import TIER_NAMES, Tiers, TierSettings
from trove_common.context import admin_var
from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError, QuotaExceededError
from trove_common.ids import parse_id
from trove_common.metrics import COST_RECORDED, COST_UNITS

logger = logging.getLogger(__name__)

MAX_UID_CHARS = 128
MAX_EMAIL_CHARS = 320
MAX_KEY_CHARS = 200
MAX_PAGE = 100
MAX_BUDGET = 1_000_000.0
# Spending at these percentages of the month's budget records an alert (once per period each).
ALERT_THRESHOLDS_PCT = (80, 100)


def _encode_cursor(cost_id: int) -> str:
    return base64.urlsafe_b64encode(f"cost:{cost_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "cost" or not number.isdigit():
            raise ValueError(raw)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError("cursor is malformed") from None


def _require_admin() -> None:
    if not admin_var.get():
        raise PermissionDeniedError("only an administrator may change another user's tier or budget")


class Billing:
    """Users, their tiers' limits, what they use and spend, and their budgets."""

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

    def limits(self, tier: str) -> TierSettings:
        return self._tiers.of(tier)

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
            media_id = parse_id(media_id, what="media_id")
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
            # One ledger write per user at a time, so concurrent costs cannot both miss a threshold they cross together.
            await repo.lock_user(conn, user_id=user_id)
            recorded = await repo.insert_cost(conn, user_id=user_id, cost=cost)
            if recorded:
                await self._alert(conn, user_id=user_id)
        if recorded:  # a repeated report of the same cost is not counted twice, here as in the ledger
            COST_RECORDED.labels(service=service, currency=self._currency).inc(cost.amount)
            COST_UNITS.labels(service=service).inc(units)
        return cost, recorded

    async def _alert(self, conn: asyncpg.Connection, *, user_id: str) -> None:
        """Record (and log) each budget threshold this period's spending has reached, once per period."""
        usage = await self._usage(conn, user_id=user_id)
        for pct in ALERT_THRESHOLDS_PCT:
            if usage.budget_used * 100 < pct:
                continue
            fresh = await repo.insert_alert(
                conn,
                user_id=user_id,
                period=usage.totals.period,
                threshold_pct=pct,
                spent=usage.totals.spent,
                budget=usage.budget,
                currency=usage.currency,
            )
            if fresh:
                logger.warning(
                    "budget alert",
                    extra={
                        "event": "budget_alert",
                        "user_id": user_id,
                        "threshold_pct": pct,
                        "spent": usage.totals.spent,
                        "budget": usage.budget,
                        "period": usage.totals.period.isoformat(),
                    },
                )

    async def _usage(self, conn: asyncpg.Connection, *, user_id: str) -> Usage:
        user = await repo.get_user(conn, user_id=user_id)
        if user is None:
            raise NotFoundError("user not found")
        limits = self._tiers.of(user.tier)
        own = await repo.own_budget(conn, user_id=user_id)
        return Usage(
            tier=user.tier,
            limits=limits,
            totals=await repo.usage_totals(conn, user_id=user_id),
            budget=limits.monthly_budget if own is None else own,
            currency=self._currency,
        )

    async def usage(self, *, user_id: str) -> Usage:
        async with user_transaction(self._pool, user_id) as conn:
            return await self._usage(conn, user_id=user_id)

    async def check_quota(
        self, *, user_id: str, size_bytes: int, pending_bytes: int = 0, pending_uploads: int = 0
    ) -> None:
        """Raise QuotaExceededError (naming the limit, the usage and the allowed value) if the upload does not fit.

        Args:
            pending_bytes, pending_uploads: uploads started and not completed yet, counted as if they were.
        """
        if size_bytes <= 0:
            raise InvalidArgumentError("size_bytes must be a positive number of bytes")
        if pending_bytes < 0 or pending_uploads < 0:
            raise InvalidArgumentError("pending_bytes and pending_uploads must be >= 0")
        usage = await self.usage(user_id=user_id)
        limits, totals = usage.limits, usage.totals
        minutes = totals.compute_s / 60
        storage, uploads = totals.storage_bytes + pending_bytes, totals.uploads + pending_uploads
        checks = (
            ("max_file_bytes", size_bytes, limits.max_file_bytes, size_bytes > limits.max_file_bytes),
            ("storage_bytes", storage, limits.storage_bytes, storage + size_bytes > limits.storage_bytes),
            ("uploads_per_month", uploads, limits.uploads_per_month, uploads >= limits.uploads_per_month),
            ("processing_minutes_per_month", round(minutes, 3), limits.processing_minutes_per_month,
             minutes >= limits.processing_minutes_per_month),
        )  # fmt: skip
        for name, used, allowed, exceeded in checks:
            if exceeded:
                raise QuotaExceededError(
                    f"this upload would exceed your {usage.tier} tier's {name.replace('_', ' ')} "
                    f"(usage {used}, limit {allowed})",
                    details={
                        "limit": name,
                        "usage": used,
                        "allowed": allowed,
                        "requested_bytes": size_bytes,
                        "tier": usage.tier,
                    },
                )

    async def record_upload(self, *, user_id: str, media_id: str, size_bytes: int) -> bool:
        media_id = parse_id(media_id, what="media_id")
        if size_bytes < 0:
            raise InvalidArgumentError("size_bytes must be >= 0")
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.insert_usage(conn, user_id=user_id, media_id=media_id, size_bytes=size_bytes)

    async def record_derived_bytes(self, *, user_id: str, media_id: str, size_bytes: int) -> bool:
        media_id = parse_id(media_id, what="media_id")
        if size_bytes < 0:
            raise InvalidArgumentError("size_bytes must be >= 0")
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.set_derived_bytes(conn, user_id=user_id, media_id=media_id, size_bytes=size_bytes)

    async def record_deletion(self, *, user_id: str, media_id: str) -> bool:
        media_id = parse_id(media_id, what="media_id")
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.mark_deleted(conn, user_id=user_id, media_id=media_id)

    async def ledger(self, *, user_id: str, limit: int, cursor: str) -> LedgerPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidArgumentError(f"limit must be between 1 and {MAX_PAGE}")
        before = _decode_cursor(cursor) if cursor else None
        async with user_transaction(self._pool, user_id) as conn:
            items = await repo.list_costs(conn, user_id=user_id, limit=limit + 1, before=before)
        more = len(items) > limit
        items = items[:limit]
        return LedgerPage(items=items, next_cursor=_encode_cursor(items[-1].cost_id) if more else "")

    async def alerts(self, *, user_id: str) -> list[Alert]:
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.list_alerts(conn, user_id=user_id)

    async def set_tier(self, *, user_id: str, tier: str) -> User:
        """Admin only: move a user to another tier. `user_id` names the target, not the caller."""
        _require_admin()
        if tier not in TIER_NAMES:
            raise InvalidArgumentError(f"tier must be one of {', '.join(TIER_NAMES)}")
        user_id = parse_id(user_id, what="user", error=NotFoundError)
        async with user_transaction(self._pool, user_id) as conn:
            user = await repo.set_tier(conn, user_id=user_id, tier=tier)
        if user is None:
            raise NotFoundError("user not found")
        logger.info("tier changed", extra={"event": "tier_changed", "user_id": user_id, "tier": tier})
        return user

    async def set_budget(self, *, user_id: str, amount: float) -> tuple[str, float]:
        """Admin only: a user's own monthly budget (instead of their tier's default); returns (user id, amount)."""
        _require_admin()
        if not math.isfinite(amount) or not 0 <= amount <= MAX_BUDGET:
            raise InvalidArgumentError(f"amount must be a number from 0 to {MAX_BUDGET:,.0f}")
        user_id = parse_id(user_id, what="user", error=NotFoundError)
        async with user_transaction(self._pool, user_id) as conn:
            if await repo.get_user(conn, user_id=user_id) is None:
                raise NotFoundError("user not found")
            await repo.set_budget(conn, user_id=user_id, amount=amount)
        logger.info("budget changed", extra={"event": "budget_changed", "user_id": user_id, "amount": amount})
        return user_id, amount

    @property
    def currency(self) -> str:
        return self._currency
