"""Sentence embeddings from any server that speaks OpenAI's `POST /v1/embeddings`, through the openai SDK."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import openai
from openai import AsyncOpenAI, omit

from trove_ml.errors import ProviderSettingError, ProviderUnavailableError

# The billing service name (a key of billing's `prices`) that each call's tokens are reported under.
OPENAI_EMBEDDINGS = "openai-embeddings"


@dataclass(frozen=True, slots=True)
class Usage:
    """What one embedding call used, as the billing ledger counts it: `units` of price key `service`."""

    service: str
    units: float


class OpenAIEmbedder:
    """An embedder behind the OpenAI embeddings protocol: batches of `batch_size` inputs per request.

    Throttling (429), timeouts and server errors are retried by the SDK itself (exponential backoff with jitter,
    honouring Retry-After) up to `max_retries` times. A refused key or an unknown model is a ProviderSettingError
    naming the setting (`setting` is its env prefix, e.g. TROVE_ANALYSIS_EMBEDDER__); other failures are
    ProviderUnavailableError.

    Args:
        dimensions: sent with each request when set (text-embedding-3 models shorten their vectors to it);
            None: the server's own size, learnt by `probe()`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        dimensions: int | None = None,
        batch_size: int = 256,
        max_retries: int = 5,
        timeout_s: float = 30.0,
        setting: str = "TROVE_<SVC>_EMBEDDER__",
    ) -> None:
        # Servers without keys (Ollama, a local TEI) still get a non-empty bearer: the SDK insists on one.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", max_retries=max_retries, timeout=timeout_s
        )
        self.base_url = base_url
        self.model_name = model
        self.dimensions = dimensions
        self.dim = dimensions or 0
        self._batch_size = batch_size
        self._setting = setting

    @property
    def provider(self) -> str:
        """What makes the vectors, recorded with the embedding stage's result: `openai/<model>[/<dimensions>]`."""
        return f"openai/{self.model_name}" + (f"/{self.dimensions}" if self.dimensions else "")

    async def probe(self) -> None:
        """Learn the vector size from one short request (when `dimensions` is unset); errors as in `embed`."""
        if self.dim == 0:
            vectors, _ = await self._request(["dimension probe"])
            self.dim = int(vectors.shape[1])

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors, _ = await self.embed_metered(texts)
        return vectors

    async def embed_metered(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], Usage | None]:
        """Unit-length rows, one per text, and the tokens the server counted."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        await self.probe()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        tokens = 0
        for start in range(0, len(texts), self._batch_size):
            vectors, used = await self._request(list(texts[start : start + self._batch_size]))
            if vectors.shape[1] != self.dim:
                raise ProviderSettingError(
                    f"the embeddings server at {self.base_url} answered {vectors.shape[1]}-d vectors for model "
                    f"{self.model_name!r}, not {self.dim}: check {self._setting}DIMENSIONS"
                )
            out[start : start + len(vectors)] = vectors
            tokens += used
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)  # cosine search expects unit rows; most servers send them
        return out, Usage(service=OPENAI_EMBEDDINGS, units=float(tokens)) if texts else None

    async def _request(self, batch: list[str]) -> tuple[npt.NDArray[np.float32], int]:
        try:
            response = await self._client.embeddings.create(
                input=batch, model=self.model_name, dimensions=self.dimensions if self.dimensions else omit
            )
        except openai.AuthenticationError as exc:
            raise ProviderSettingError(
                f"the embeddings server at {self.base_url} refused the API key ({exc.status_code}): "
                f"check {self._setting}API_KEY"
            ) from exc
        except openai.PermissionDeniedError as exc:
            raise ProviderSettingError(
                f"the API key may not use model {self.model_name!r} at {self.base_url} ({exc.status_code}): "
                f"check {self._setting}API_KEY and {self._setting}MODEL"
            ) from exc
        except openai.NotFoundError as exc:
            raise ProviderSettingError(
                f"the embeddings server at {self.base_url} has no model {self.model_name!r} (404): "
                f"check {self._setting}MODEL and {self._setting}BASE_URL"
            ) from exc
        except openai.BadRequestError as exc:
            raise ProviderSettingError(
                f"the embeddings server at {self.base_url} rejected the request (400: {exc.message}): "
                f"check {self._setting}MODEL and {self._setting}DIMENSIONS"
            ) from exc
        except openai.RateLimitError as exc:
            raise ProviderUnavailableError(
                f"the embeddings server at {self.base_url} is still throttling after its retries (429)"
            ) from exc
        except openai.APIError as exc:
            raise ProviderUnavailableError(f"the embeddings server at {self.base_url} failed: {exc}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(batch):
            raise ProviderUnavailableError(
                f"the embeddings server at {self.base_url} answered {len(rows)} vectors for {len(batch)} inputs"
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        return vectors, response.usage.total_tokens if response.usage else 0

    async def close(self) -> None:
        await self._client.close()
