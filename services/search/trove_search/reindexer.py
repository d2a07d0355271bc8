"""Re-indexing: embeds every segment into the configured embedder's space in the background, then switches to it.

Searches keep using the active space until the new one is complete; the switch is one transaction. The run is
resumable: it only embeds segments lacking a vector in the target space, so a restarted service (which resumes
a `building` space at start-up) or a repeated request picks up where the last run stopped.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass

import asyncpg

from trove_common.db import user_transaction
from trove_search import space_repo
from trove_search.models import Space
from trove_search.spaces import Spaces

logger = logging.getLogger(__name__)

# One run across all replicas: the runner holds this session-level advisory lock for the whole run.
_RUN_LOCK = zlib.crc32(b"trove-search:reindex")


@dataclass(frozen=True, slots=True)
class ReindexStatus:
    """What a re-index is doing: `running` in this or another replica, and the spaces' records."""

    running: bool
    active: Space
    target: Space | None


class Reindexer:
    """Starts, resumes and reports the re-index into `spaces.target`; at most one run at a time.

    Args:
        batch: segments embedded and written per transaction.
        pause_s: sleep between batches, so a re-index on a busy host leaves room for live traffic.
    """

    def __init__(self, *, pool: asyncpg.Pool, spaces: Spaces, batch: int, pause_s: float = 0.0) -> None:
        self._pool = pool
        self._spaces = spaces
        self._batch = batch
        self._pause_s = pause_s
        self._task: asyncio.Task[None] | None = None

    async def status(self) -> ReindexStatus:
        async with self._pool.acquire() as conn:
            active = await space_repo.active_space(conn)
            target = await space_repo.get_space(conn, self._spaces.target)
            running = self._running() or (
                target is not None and target.state == "building" and not await self._lock_free(conn)
            )
        return ReindexStatus(running=running, active=active, target=target)

    async def start(self, *, resume_only: bool = False) -> bool:
        """Start a run unless one is under way (here or in another replica) or the target is already active.

        Args:
            resume_only: start only if an earlier run left the target building (at service start-up).
        Returns: whether this call started a run.
        """
        if self._running():
            return False
        conn: asyncpg.Connection = await self._pool.acquire()
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RUN_LOCK):
                await self._pool.release(conn)
                return False
            async with conn.transaction():
                target = await space_repo.get_space(conn, self._spaces.target)
                if target is None or target.state == "active" or (resume_only and target.state != "building"):
                    target = None
                else:
                    await space_repo.begin_build(conn, target.space)
        except BaseException:
            await self._release(conn)
            raise
        if target is None:
            await self._release(conn)
            return False
        self._task = asyncio.create_task(self._run(conn, target.space), name="reindex")
        return True

    async def stop(self) -> None:
        """Cancel a run at shutdown; its progress is kept and the next start resumes it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _lock_free(self, conn: asyncpg.Connection) -> bool:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RUN_LOCK):
            return False
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", _RUN_LOCK)
        except BaseException:
            conn.terminate()  # see _release
            raise
        return True

    async def _release(self, conn: asyncpg.Connection) -> None:
        try:
            await conn.execute("SELECT pg_advisory_unlock_all()")
        except BaseException:
            conn.terminate()  # the pool does not reset sessions: a connection still holding the lock must not return
            raise
        finally:
            await self._pool.release(conn)

    async def _run(self, conn: asyncpg.Connection, space: str) -> None:
        try:
            logger.info("re-index started", extra={"space": space})
            users = await space_repo.index_users(conn)
            await self._count(conn, space, users)
            for user_id in users:
                await self._fill(space, user_id)
            target = await space_repo.get_space(conn, space)
            assert target is not None
            await space_repo.ensure_hnsw_index(conn, target.space, target.dim)
            async with conn.transaction():
                await space_repo.activate(conn, space)
            logger.info("re-index complete: searches use the new space", extra={"space": space})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("re-index stopped; a new request resumes it", extra={"space": space})
            await space_repo.record_error(conn, space, f"{type(exc).__name__}: {exc}")
        finally:
            await self._release(conn)

    async def _count(self, conn: asyncpg.Connection, space: str, users: list[str]) -> None:
        total = done = 0
        for user_id in users:
            async with user_transaction(self._pool, user_id) as user_conn:
                user_total, user_done = await space_repo.count_segments(user_conn, space)
            total, done = total + user_total, done + user_done
        await space_repo.set_progress(conn, space, total=total, done=done)

    async def _fill(self, space: str, user_id: str) -> None:
        """Embed the user's segments lacking a vector in `space`, one batch per transaction."""
        encoder = self._spaces.configured
        while True:
            async with user_transaction(self._pool, user_id) as conn:
                batch = await space_repo.missing_segments(conn, space, limit=self._batch)
            if not batch:
                return
            vectors = await encoder.embed([text for _, text in batch])
            async with user_transaction(self._pool, user_id) as conn:
                stored = await space_repo.add_vectors(
                    conn, space, segment_ids=[segment_id for segment_id, _ in batch], vectors=vectors
                )
                await space_repo.add_done(conn, space, stored)
            await asyncio.sleep(self._pause_s)
