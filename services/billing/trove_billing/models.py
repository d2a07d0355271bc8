"""Billing domain types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
class Limits:
    max_media_duration_s: float
    max_file_bytes: int
