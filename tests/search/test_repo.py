"""The segment index's SQL on the real search database, inside user transactions (row-level security on)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest
from pydantic import SecretStr

from trove_common.db import create_pool, user_transaction
from trove_common.errors import InvalidArgumentError
from trove_common.settings import PostgresSettings
from trove_search import repo
from trove_search.models import MediaFacts, Segment
from trove_stack.infra import Infra, ServiceGroup

FACTS = MediaFacts(kind="image", taken_at=None, uploaded_at=None, duration_s=None, has_faces=False, language="")


async def test_full_text_counts_the_share_of_the_query_words_a_segment_holds(
    infra: Infra, services: ServiceGroup
) -> None:
    user_id = str(uuid.uuid4())
    texts = {
        "all": "a woman in a military uniform",
        "one": "a photo of a warship; military vessel, military vessel, military",
        "none": "a photo of a cat",
    }
    media = {name: str(uuid.uuid4()) for name in texts}
    pool = await create_pool(PostgresSettings(dsn=SecretStr(infra.dsns["search"])), vectors=True)
    try:
        for name, text in texts.items():
            segment = Segment(kind="image", start_s=0.0, end_s=0.0, text=text, vector=np.ones(4, np.float32))
            async with user_transaction(pool, user_id) as conn:
                await repo.replace_segments(
                    conn,
                    user_id=user_id,
                    media_id=media[name],
                    segments=[segment],
                    facts=FACTS,
                    vectors={"test:4": segment.vector[None, :]},
                )
        async with user_transaction(pool, user_id) as conn:
            found = await repo.text_matches(
                conn, user_id=user_id, query="woman in military uniform", space="test:4", dim=4, limit=10
            )
    finally:
        await pool.close()

    by_media = {c.media_id: c for c, _ in found}
    assert set(by_media) == {media["all"], media["one"]}
    assert by_media[media["all"]].text_coverage == 1.0
    assert abs(by_media[media["one"]].text_coverage - 1 / 3) < 1e-9
    # The segment that says "military" three times still ranks below the one with every word.
    assert [c.media_id for c, _ in found] == [media["all"], media["one"]]


@pytest.fixture
async def pool(infra: Infra, services: ServiceGroup) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection, returned without the session reset search's pool skips: nothing may carry over."""
    settings = PostgresSettings(dsn=SecretStr(infra.dsns["search"]), pool_min=1, pool_max=1)
    made = await create_pool(settings, vectors=True, session_reset=False)
    yield made
    await made.close()


async def test_transaction_settings_ride_with_the_user_id_and_end_with_the_transaction(
    pool: asyncpg.Pool,
) -> None:
    user_id = str(uuid.uuid4())
    async with user_transaction(pool, user_id, settings=repo.hnsw_settings(123)) as conn:
        inside = await conn.fetchrow(
            """SELECT current_setting('app.user_id') AS user_id, current_setting('hnsw.ef_search') AS ef,
                   current_setting('hnsw.iterative_scan') AS scan"""
        )
        first = await conn.fetchval("SELECT pg_backend_pid()")
    async with pool.acquire() as conn:
        after = await conn.fetchrow(
            """SELECT current_setting('app.user_id', true) AS user_id,
                   current_setting('hnsw.ef_search', true) AS ef, pg_backend_pid() AS pid"""
        )
    assert dict(inside) == {"user_id": user_id, "ef": "123", "scan": "relaxed_order"}
    assert after["pid"] == first
    assert after["user_id"] in (None, "")
    assert after["ef"] != "123"


async def test_a_failed_user_transaction_is_rolled_back_and_odd_values_never_reach_the_sql(
    pool: asyncpg.Pool,
) -> None:
    user_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError, match="the body failed"):
        async with user_transaction(pool, user_id) as conn:
            await conn.execute(
                "INSERT INTO search.search_history (user_id, query, result_count, latency_ms) "
                "VALUES ($1::uuid, 'kept?', 0, 1.0)",
                user_id,
            )
            raise RuntimeError("the body failed")
    async with user_transaction(pool, user_id) as conn:
        kept = await conn.fetchval("SELECT count(*) FROM search.search_history")
        in_transaction = conn.is_in_transaction()
    with pytest.raises(InvalidArgumentError, match="user_id must be a UUID"):
        async with user_transaction(pool, "x'); DROP TABLE search.media; --"):
            pass
    with pytest.raises(ValueError, match="not a plain setting"):
        async with user_transaction(pool, user_id, settings={"hnsw.ef_search": "1'; --"}):
            pass
    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('search.media') IS NOT NULL")
    assert kept == 0
    assert in_transaction


async def test_a_cancelled_user_transaction_ends_and_its_connection_carries_nothing(pool: asyncpg.Pool) -> None:
    # A search whose caller gave up (a gRPC deadline) is cancelled mid-statement.
    user_id = str(uuid.uuid4())

    async def slow() -> None:
        async with user_transaction(pool, user_id) as conn:
            await conn.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    async with pool.acquire() as conn:
        after = await conn.fetchval("SELECT current_setting('app.user_id', true)")
        assert not conn.is_in_transaction()
    assert after in (None, "")
