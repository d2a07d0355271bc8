"""The Redis cache of query embeddings and result lists, invalidated per user by an index version.

The cache is an optimisation, never a dependency: every call is bounded by `timeout_s`, and an error or a
timeout (Redis down, hung or restarting) is a miss, so search answers from the database without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from redis.asyncio import Redis
from redis.exceptions import RedisError

from trove_common.metrics import CACHE_HITS, CACHE_MISSES
from trove_search.constants import INDEX_VERSION, QUERY_VECTOR, RESULT_PAGE
from trove_search.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
_FAILURES = (RedisError, OSError, TimeoutError)


def _unavailable(what: str, exc: BaseException) -> None:
    logger.warning("search cache unavailable: answering without it", extra={"op": what, "error": repr(exc)})


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the cache holds for one search; `version` None: the cache is unavailable (nothing is read or kept)."""

    version: int | None
    results: bytes | None
    query_vector: npt.NDArray[np.float32] | None


_NOTHING = Lookup(version=None, results=None, query_vector=None)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class SearchCache:
    def __init__(self, redis: Redis, *, ttl_s: int, timeout_s: float = 0.5) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._writes: set[asyncio.Task[None]] = set()

    @classmethod
    def open(cls, settings: Settings) -> SearchCache:
        """The cache on search's Redis, every socket call bounded by `cache_timeout_s`; `aclose` when done."""
        redis = Redis.from_url(
            settings.redis.dsn.get_secret_value(),
            socket_timeout=settings.cache_timeout_s,
            socket_connect_timeout=settings.cache_timeout_s,
        )
        return cls(redis, ttl_s=settings.cache_ttl_s, timeout_s=settings.cache_timeout_s)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, call: Awaitable[T]) -> T | None:
        """The call's answer, or None when Redis failed or did not answer in time (logged)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except _FAILURES as exc:
            _unavailable(what, exc)
            return None

    async def version(self, user_id: str) -> int | None:
        """The user's index version; None when the cache is unavailable (then nothing is read or kept)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                value = await self._redis.get(INDEX_VERSION + user_id)
        except _FAILURES as exc:
            _unavailable("version", exc)
            return None
        return int(value or 0)

    async def lookup(
        self, *, user_id: str, version: int | None, space: str, request_key: str, vector_space: str, text: str
    ) -> Lookup:
        """The result list cached for the request at `version` (see `results`) and the query's vector in
        `vector_space` (see `query_vector`), in one round trip."""
        if version is None:
            return _NOTHING
        reply = await self._call(
            "lookup",
            self._redis.mget(
                _page_key(space, user_id, version, request_key), QUERY_VECTOR + digest(vector_space, text)
            ),
        )
        if reply is None:
            return Lookup(version=version, results=None, query_vector=None)
        results, vector = reply
        _count("results", hit=results is not None)
        if results is None:
            _count("query_vector", hit=vector is not None)
        return Lookup(
            version=version,
            results=results,
            query_vector=None if vector is None else np.frombuffer(vector, dtype=np.float32),
        )

    async def bump(self, user_id: str) -> None:
        """The user's index changed: every cached result list of theirs is stale from now on.

        With Redis unavailable the bump is lost: result lists cached before the outage may be served until their
        TTL ends (`cache_ttl_s`).
        """
        await self._call("bump", self._redis.incr(INDEX_VERSION + user_id))

    async def query_vector(self, space: str, text: str) -> npt.NDArray[np.float32] | None:
        raw = await self._call("query_vector", self._redis.get(QUERY_VECTOR + digest(space, text)))
        _count("query_vector", hit=raw is not None)
        return None if raw is None else np.frombuffer(raw, dtype=np.float32)

    async def keep_query_vector(self, space: str, text: str, vector: npt.NDArray[np.float32]) -> None:
        payload = vector.astype(np.float32).tobytes()
        await self._call(
            "keep_query_vector", self._redis.set(QUERY_VECTOR + digest(space, text), payload, ex=self._ttl_s)
        )

    def keep_query_vector_soon(self, space: str, text: str, vector: npt.NDArray[np.float32]) -> None:
        """`keep_query_vector` off the request path: the search does not wait for the write."""
        self._soon(self.keep_query_vector(space, text, vector))

    def keep_results_soon(
        self, space: str, user_id: str, version: int | None, request_key: str, payload: bytes
    ) -> None:
        """`keep_results` off the request path."""
        self._soon(self.keep_results(space, user_id, version, request_key, payload))

    def _soon(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def results(self, space: str, user_id: str, version: int | None, request_key: str) -> bytes | None:
        """A cached result list; the key carries the embedding space, so a switch of spaces misses every old one."""
        if version is None:
            return None
        raw: bytes | None = await self._call(
            "results", self._redis.get(_page_key(space, user_id, version, request_key))
        )
        _count("results", hit=raw is not None)
        return raw

    async def keep_results(
        self, space: str, user_id: str, version: int | None, request_key: str, payload: bytes
    ) -> None:
        if version is not None:
            key = _page_key(space, user_id, version, request_key)
            await self._call("keep_results", self._redis.set(key, payload, ex=self._ttl_s))


def _count(kind: str, *, hit: bool) -> None:
    (CACHE_HITS if hit else CACHE_MISSES).labels(kind=kind).inc()


def _page_key(space: str, user_id: str, version: int, request_key: str) -> str:
    return f"{RESULT_PAGE}{user_id}:{version}:{digest(space)}:{request_key}"
