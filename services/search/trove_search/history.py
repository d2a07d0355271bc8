"""Search history, written off the request path by one background writer per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from trove_common.db import user_transaction
from trove_search import repo
from trove_search.models import HistoryEntry

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000
MAX_BATCH = 100  # entries written in one pass: each user's in one transaction


class HistoryWriter:
    """Queues entries and writes them in the background; `stop` writes what is queued, then ends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[tuple[str, HistoryEntry]] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="search-history-writer")

    def record(self, user_id: str, entry: HistoryEntry) -> None:
        try:
            self._queue.put_nowait((user_id, entry))
        except asyncio.QueueFull:
            logger.warning("search history queue is full; an entry was dropped")

    async def flush(self) -> None:
        """Wait until every queued entry is written (tests and shutdown)."""
        await self._queue.join()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            by_user: dict[str, list[HistoryEntry]] = {}
            for user_id, entry in batch:
                by_user.setdefault(user_id, []).append(entry)
            for user_id, entries in by_user.items():
                try:
                    async with user_transaction(self._pool, user_id) as conn:
                        await repo.add_history(conn, user_id=user_id, entries=entries)
                except Exception:
                    logger.exception("writing search history failed", extra={"entries": len(entries)})
            for _ in batch:
                self._queue.task_done()
