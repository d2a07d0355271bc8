"""The search cache's one-round-trip lookup (cached results and query vector) on the real Redis, and without it."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
from redis.asyncio import Redis

from trove_search.cache import SearchCache
from trove_stack.config import free_ports
from trove_stack.infra import Infra

SPACE = "all-MiniLM-L6-v2/384"


async def test_lookup_reads_results_and_query_vector_at_once(infra: Infra) -> None:
    redis = Redis.from_url(infra.redis_dsn)
    cache = SearchCache(redis, ttl_s=60)
    user_id, key = str(uuid.uuid4()), uuid.uuid4().hex
    text = f"sunset {key}"
    try:
        version = await cache.version(user_id)
        empty = await cache.lookup(
            user_id=user_id, version=version, space=SPACE, request_key=key, vector_space=SPACE, text=text
        )
        assert (empty.version, empty.results, empty.query_vector) == (0, None, None)

        vector = np.arange(384, dtype=np.float32)
        await cache.keep_query_vector(SPACE, text, vector)
        await cache.keep_results(SPACE, user_id, 0, key, b"[1]")
        found = await cache.lookup(
            user_id=user_id, version=0, space=SPACE, request_key=key, vector_space=SPACE, text=text
        )
        assert (found.version, found.results) == (0, b"[1]")
        assert found.query_vector is not None
        np.testing.assert_array_equal(found.query_vector, vector)

        # The index changed: the old list is stale, the query's vector still good.
        await cache.bump(user_id)
        version = await cache.version(user_id)
        after = await cache.lookup(
            user_id=user_id, version=version, space=SPACE, request_key=key, vector_space=SPACE, text=text
        )
        assert (after.version, after.results) == (1, None)
        assert after.query_vector is not None
        # Another space's lists are not this one's.
        other = await cache.lookup(
            user_id=user_id, version=0, space="other/3", request_key=key, vector_space=SPACE, text=text
        )
        assert other.results is None

        cache.keep_results_soon(SPACE, user_id, 1, key, b"[2]")
        cache.keep_query_vector_soon(SPACE, "later", vector)
        await asyncio.sleep(0.2)
        assert (await cache.query_vector(SPACE, "later")) is not None
        assert (await cache.results(SPACE, user_id, 1, key)) == b"[2]"
    finally:
        await redis.aclose()


async def test_lookup_without_redis_is_a_miss_that_keeps_nothing() -> None:
    (port,) = free_ports(1)
    redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        cache = SearchCache(redis, ttl_s=60, timeout_s=0.5)
        assert await cache.version("u") is None
        missed = await cache.lookup(user_id="u", version=3, space=SPACE, request_key="k", vector_space=SPACE, text="t")
        assert (missed.version, missed.results, missed.query_vector) == (3, None, None)
    finally:
        await redis.aclose()
