"""The one place the sentence embedder is built from EmbedderSettings: analysis (segments) and search (queries)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from trove_common.offload import ModelExecutor
from trove_common.settings import EmbedderSettings
from trove_ml.offloaded import OffloadedTextEmbedder
from trove_ml.openai_embedder import OpenAIEmbedder, Usage


class SentenceEmbedder(Protocol):
    model_name: str
    dim: int

    @property
    def provider(self) -> str:
        """Recorded with the embedding stage's result: "local/<model>" or "openai/<model>/<dimension>"."""
        ...

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    async def embed_metered(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], Usage | None]:
        """The vectors and, for a paid provider, what the call used (for the billing ledger)."""
        ...


def make_embedder(settings: EmbedderSettings, *, executor: ModelExecutor, setting: str) -> SentenceEmbedder:
    """The embedder `settings` name; blocking (a local model's folder is read), no call to a server yet.

    An OpenAI-compatible embedder without `dimensions` learns its vector size on its first call (see `open_embedder`).

    Args:
        executor: where a local model runs.
        setting: the env prefix of these settings (e.g. TROVE_SEARCH_EMBEDDER__), named in configuration errors.
    """
    if settings.provider == "local":
        return OffloadedTextEmbedder(executor, model_dir=settings.model_dir)
    return OpenAIEmbedder(
        base_url=settings.base_url,
        model=settings.model,
        api_key=settings.api_key.get_secret_value(),
        dimensions=settings.dimensions,
        batch_size=settings.batch_size,
        max_retries=settings.max_retries,
        timeout_s=settings.timeout_s,
        setting=setting,
    )


async def open_embedder(settings: EmbedderSettings, *, executor: ModelExecutor, setting: str) -> SentenceEmbedder:
    """`make_embedder`, with its vector size known (`dim`): search names the embedder's space before any query.
    A local model is loaded here too, so the first search does not wait for it."""
    embedder = await asyncio.to_thread(make_embedder, settings, executor=executor, setting=setting)
    if isinstance(embedder, OpenAIEmbedder):
        await embedder.probe()
    elif isinstance(embedder, OffloadedTextEmbedder):
        await embedder.load()
    return embedder
