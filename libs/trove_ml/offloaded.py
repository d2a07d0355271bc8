"""Models as the services use them: one loaded model, inference in the process's model executor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from trove_common.offload import ModelExecutor
from trove_ml.image_text import ImageTextModel
from trove_ml.openai_embedder import Usage
from trove_ml.text_embedder import TextEmbedder


class OffloadedTextEmbedder:
    """Async face of `TextEmbedder`; analysis embeds segments with it and search embeds queries, so they agree.

    Args:
        model_dir: a BERT sentence-transformers folder; None for the built-in all-MiniLM-L6-v2.
    """

    def __init__(self, executor: ModelExecutor, *, model_dir: Path | None = None) -> None:
        self._model = TextEmbedder(model_dir=model_dir)
        self._executor = executor
        self.model_dir = model_dir
        self.model_name: str = self._model.model_name
        self.dim: int = self._model.dim
        self.provider = f"local/{self.model_name}"

    async def load(self) -> None:
        """Load the model now rather than at the first `embed` (see `TextEmbedder.load`)."""
        await self._executor.run(self._model.load)

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return await self._executor.run(self._model.embed, list(texts))

    async def embed_metered(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], Usage | None]:
        """The vectors; no usage to report (the machine time is the stage's)."""
        return await self.embed(texts), None


class OffloadedImageTextQueries:
    """The text tower of a user-supplied image-text model as search uses it: queries embedded in the executor,
    into the space where analysis put the pictures."""

    def __init__(self, executor: ModelExecutor, model: ImageTextModel) -> None:
        self._model = model
        self._executor = executor
        self.model_name: str = model.name
        self.dim: int = model.dim

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return await self._executor.run(self._model.embed_texts, list(texts))
