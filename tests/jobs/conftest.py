"""Fixtures shared by the tests that run a supervised stack of their own (each module defines `stack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from jobs.stack import Supervised


@pytest.fixture(scope="module")
async def admin_db(stack: Supervised) -> AsyncIterator[asyncpg.Connection]:
    """The stack's database as its superuser, for checks across users (duplicates, queue state)."""
    conn = await asyncpg.connect(stack.admin_dsn)
    yield conn
    await conn.close()
