"""Concurrent query embeddings share forward passes and get the vectors they would have got alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from trove_common.offload import ModelExecutor
from trove_ml.offloaded import OffloadedTextEmbedder
from trove_search.batching import QueryBatcher

QUERIES = [f"{word} at the beach" for word in ("sunset", "boat", "dog", "receipt", "guitar", "cake", "train", "soup")]


@pytest.fixture(scope="module")
def executor() -> Iterator[ModelExecutor]:
    pool = ModelExecutor(threads=1, name="batching-test")
    yield pool
    pool.shutdown()


class CountingEncoder:
    """The real embedder, counting the calls that reach it."""

    def __init__(self, executor: ModelExecutor) -> None:
        self._inner = OffloadedTextEmbedder(executor)
        self.model_name = self._inner.model_name
        self.dim = self._inner.dim
        self.calls: list[int] = []

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(len(texts))
        return await self._inner.embed(texts)


class FailingEncoder:
    model_name = "failing"
    dim = 3

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        await asyncio.sleep(0)
        raise ConnectionError("embedding server gone")


async def test_concurrent_queries_are_embedded_together_into_their_own_vectors(executor: ModelExecutor) -> None:
    encoder = CountingEncoder(executor)
    alone = [(await encoder.embed([q]))[0] for q in QUERIES]
    encoder.calls.clear()
    batcher = QueryBatcher(lanes=1)
    together = await asyncio.gather(*(batcher.embed(encoder, q) for q in [*QUERIES, QUERIES[0]]))
    # All arrive before the lane's first call starts: one call, the repeated text embedded once.
    assert encoder.calls == [len(QUERIES)]
    for mine, single in zip(together, [*alone, alone[0]], strict=True):
        assert mine.shape == (encoder.dim,)
        np.testing.assert_allclose(mine, single, atol=1e-5)


async def test_a_query_alone_is_embedded_at_once_and_errors_reach_every_caller(executor: ModelExecutor) -> None:
    encoder = CountingEncoder(executor)
    batcher = QueryBatcher(lanes=2)
    for q in QUERIES[:3]:
        await batcher.embed(encoder, q)
    assert encoder.calls == [1, 1, 1]
    failing = FailingEncoder()
    results = await asyncio.gather(*(batcher.embed(failing, q) for q in QUERIES), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    # The lanes are free again afterwards.
    assert (await batcher.embed(encoder, "after the failure")).shape == (encoder.dim,)
