"""Billing domain types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from trove_billing.settings import TierSettings


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    firebase_uid: str
    email: str
    tier: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Cost:
    """One provider call's cost, as the ledger records it."""

    idempotency_key: str
    media_id: str | None
    stage: str
    service: str
    units: float
    unit_price: float
    amount: float
    currency: str


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """What a user used this billing period (storage is what they hold now)."""

    period: date
    storage_bytes: int
    uploads: int
    compute_s: float
    cost_by_service: dict[str, float]
    spent: float


@dataclass(frozen=True, slots=True)
class Usage:
    tier: str
    limits: TierSettings
    totals: UsageTotals
    budget: float
    currency: str

    @property
    def budget_used(self) -> float:
        """Spent / budget; a zero budget is used up from the start."""
        if self.budget <= 0:
            return 1.0
        return self.totals.spent / self.budget

    @property
    def budget_exhausted(self) -> bool:
        return self.budget_used >= 1.0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    cost_id: int
    media_id: str | None
    stage: str
    service: str
    units: float
    unit_price: float
    amount: float
    currency: str
    period: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerPage:
    items: list[LedgerEntry]
    next_cursor: str


@dataclass(frozen=True, slots=True)
class Alert:
    period: date
    threshold_pct: int
    spent: float
    budget: float
    currency: str
    created_at: datetime
