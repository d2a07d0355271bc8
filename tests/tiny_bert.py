"""A tiny random-weight BERT sentence-transformers folder, built on the spot (no downloads) for embedder tests."""

from __future__ import annotations

import json
import string
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = "a the cat kitten dog sofa couch rain weather menu coffee soup invoice rocket launch photo speech".split()


def _vocab() -> dict[str, int]:
    pieces = [*SPECIALS, *WORDS, *string.ascii_lowercase, *string.digits, *string.punctuation]
    pieces += [f"##{c}" for c in string.ascii_lowercase + string.digits]
    return {piece: i for i, piece in enumerate(dict.fromkeys(pieces))}


def _tokenizer(vocab: dict[str, int]) -> Tokenizer:
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return tokenizer


def _weights(
    *, vocab_size: int, hidden: int, intermediate: int, layers: int, positions: int, seed: int
) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * 0.2

    w = {
        "embeddings.word_embeddings.weight": rand(vocab_size, hidden),
        "embeddings.position_embeddings.weight": rand(positions, hidden),
        "embeddings.token_type_embeddings.weight": rand(2, hidden),
    }
    norms = ["embeddings.LayerNorm"]
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        shapes = {
            "attention.self.query": (hidden, hidden),
            "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden),
            "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (intermediate, hidden),
            "output.dense": (hidden, intermediate),
        }
        for name, shape in shapes.items():
            w[f"{p}{name}.weight"] = rand(*shape)
            w[f"{p}{name}.bias"] = rand(shape[0])
        norms += [f"{p}attention.output.LayerNorm", f"{p}output.LayerNorm"]
    for name in norms:
        w[f"{name}.weight"] = torch.ones(hidden)
        w[f"{name}.bias"] = torch.zeros(hidden)
    return w


def write_tiny_bert(
    folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0, intermediate: int | None = None
) -> Path:
    """A sentence-transformers BERT folder (config.json, tokenizer.json, model.safetensors, mean pooling)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    _tokenizer(vocab).save(str(folder / "tokenizer.json"))
    positions = 64
    intermediate = 4 * hidden if intermediate is None else intermediate
    weights = _weights(
        vocab_size=len(vocab), hidden=hidden, intermediate=intermediate, layers=layers, positions=positions, seed=seed
    )
    save_file(weights, str(folder / "model.safetensors"))
    config = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": positions,
        "layer_norm_eps": 1e-12,
        "vocab_size": len(vocab),
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return folder
