"""Query embeddings of concurrent searches, embedded together.

A forward pass over a batch of short queries costs little more than over one, while passes queued one behind
another add up: at 16 concurrent searches on 2 cores the queue in front of the model was most of the latency.
A query whose embedder has a free lane is embedded at once (no added wait at concurrency 1); queries that arrive
while every lane is busy wait, and the next free lane embeds all of them in one call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trove_search.spaces import QueryEncoder


@dataclass(slots=True)
class _Queue:
    waiting: dict[str, list[asyncio.Future[npt.NDArray[np.float32]]]] = field(default_factory=dict)
    busy: int = 0


class QueryBatcher:
    """Embeds one query text at a time for its caller, many at once for the embedder.

    Args:
        lanes: calls to one embedder that may run at once (the model executor's threads).
        max_batch: the most texts one call embeds.
    """

    def __init__(self, *, lanes: int, max_batch: int = 32) -> None:
        if lanes < 1 or max_batch < 1:
            raise ValueError("lanes and max_batch must be at least 1")
        self._lanes = lanes
        self._max_batch = max_batch
        self._queues: dict[int, _Queue] = {}
        self._lanes_running: set[asyncio.Task[None]] = set()

    async def embed(self, encoder: QueryEncoder, text: str) -> npt.NDArray[np.float32]:
        """`text`'s vector from `encoder`; the same text asked for twice at once is embedded once."""
        queue = self._queues.setdefault(id(encoder), _Queue())
        future: asyncio.Future[npt.NDArray[np.float32]] = asyncio.get_running_loop().create_future()
        queue.waiting.setdefault(text, []).append(future)
        if queue.busy < self._lanes:
            queue.busy += 1
            lane = asyncio.get_running_loop().create_task(self._drain(encoder, queue))
            self._lanes_running.add(lane)
            lane.add_done_callback(self._lanes_running.discard)
        return await future

    async def _drain(self, encoder: QueryEncoder, queue: _Queue) -> None:
        """Embed what waits, batch after batch, until nothing does; then free the lane."""
        try:
            while queue.waiting:
                texts = list(queue.waiting)[: self._max_batch]
                callers = [queue.waiting.pop(text) for text in texts]
                try:
                    vectors = await encoder.embed(texts)
                except Exception as exc:  # each caller gets the embedder's error, as an unbatched call would
                    for futures in callers:
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                except BaseException:
                    for futures in callers:
                        for future in futures:
                            future.cancel()
                    raise
                for futures, vector in zip(callers, vectors, strict=True):
                    for future in futures:
                        if not future.done():
                            future.set_result(vector)
        finally:
            queue.busy -= 1
