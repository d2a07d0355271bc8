"""asyncpg pools with pgvector registered, and transactions scoped to one user for row-level security."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from pgvector.asyncpg import register_vector

from trove_common.errors import InvalidArgumentError
from trove_common.ids import parse_id
from trove_common.settings import PostgresSettings

# A request waits at most this long for a pooled connection (PostgreSQL hung or the pool exhausted): 503, no hang.
ACQUIRE_TIMEOUT_S = 10.0
_PLAIN = re.compile(r"[\w.\-]+", re.ASCII)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query on release: asyncpg still rolls back an open transaction first (Connection._reset)."""


async def create_pool(settings: PostgresSettings, *, vectors: bool = False, session_reset: bool = True) -> asyncpg.Pool:
    """A pool for one service role; `vectors` registers the pgvector codec on every connection.

    Args:
        session_reset: reset session state (settings, advisory locks, cursors, LISTEN) whenever a connection goes
            back to the pool: one more round trip per use. False only for a service whose session state is all
            transaction-local (`set_config(..., true)`) and which releases any session lock it takes itself.
    """
    pool = await asyncpg.create_pool(
        dsn=settings.dsn.get_secret_value(),
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        command_timeout=settings.command_timeout_s,
        timeout=settings.connect_timeout_s,
        init=_init_connection if vectors else None,
        reset=None if session_reset else _keep_session,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def user_transaction(
    pool: asyncpg.Pool, user_id: str, *, settings: Mapping[str, str] | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction in which row-level security policies see `app.user_id` = `user_id`.

    `set_config(..., true)` is `SET LOCAL`: the setting dies with the transaction, so a pooled connection
    never carries one user's id into another user's query. BEGIN and the settings go in one simple query, a round
    trip less than asyncpg's `transaction()` followed by a parameterised `set_config` (a search opens two of these);
    so the values are written into the SQL, each checked first to be a canonical UUID or a plain word.

    Args:
        settings: more transaction-local settings (name -> value), set in the same round trip.
    """
    if not user_id:
        raise InvalidArgumentError("no calling user in this request")
    pairs = {"app.user_id": parse_id(user_id, what="user_id"), **(settings or {})}
    calls = ", ".join(f"set_config({_plain(name)}, {_plain(value)}, true)" for name, value in pairs.items())
    async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
        await conn.execute(f"BEGIN; SELECT {calls}")
        try:
            yield conn
        except BaseException:
            await conn.execute("ROLLBACK")  # as asyncpg's transaction(): a failed rollback leaves it to the pool
            raise
        await conn.execute("COMMIT")


def _plain(value: str) -> str:
    """`value` as an SQL string literal; only letters, digits, `_`, `.` and `-` are accepted."""
    if not _PLAIN.fullmatch(value):
        raise ValueError(f"not a plain setting name or value: {value!r}")
    return f"'{value}'"
