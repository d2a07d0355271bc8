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
