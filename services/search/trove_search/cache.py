"""The Redis cache of query embeddings and result lists, invalidated per user by an index version."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
from redis.asyncio import Redis

from trove_common.metrics import CACHE_HITS, CACHE_MISSES
from trove_search.constants import INDEX_VERSION, QUERY_VECTOR, RESULT_PAGE


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class SearchCache:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def version(self, user_id: str) -> int:
        value = await self._redis.get(INDEX_VERSION + user_id)
        return int(value or 0)

    async def bump(self, user_id: str) -> None:
        """The user's index changed: every cached result list of theirs is stale from now on."""
        await self._redis.incr(INDEX_VERSION + user_id)

    async def query_vector(self, space: str, text: str) -> npt.NDArray[np.float32] | None:
        raw = await self._redis.get(QUERY_VECTOR + digest(space, text))
        _count("query_vector", hit=raw is not None)
        return None if raw is None else np.frombuffer(raw, dtype=np.float32)

    async def keep_query_vector(self, space: str, text: str, vector: npt.NDArray[np.float32]) -> None:
        await self._redis.set(QUERY_VECTOR + digest(space, text), vector.astype(np.float32).tobytes(), ex=self._ttl_s)

    async def results(self, space: str, user_id: str, version: int, request_key: str) -> bytes | None:
        """A cached result list; the key carries the embedding space, so a switch of spaces misses every old one."""
        raw: bytes | None = await self._redis.get(_page_key(space, user_id, version, request_key))
        _count("results", hit=raw is not None)
        return raw

    async def keep_results(self, space: str, user_id: str, version: int, request_key: str, payload: bytes) -> None:
        await self._redis.set(_page_key(space, user_id, version, request_key), payload, ex=self._ttl_s)


def _count(kind: str, *, hit: bool) -> None:
    (CACHE_HITS if hit else CACHE_MISSES).labels(kind=kind).inc()


def _page_key(space: str, user_id: str, version: int, request_key: str) -> str:
    return f"{RESULT_PAGE}{user_id}:{version}:{digest(space)}:{request_key}"
