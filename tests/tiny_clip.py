"""A tiny CLIP or SigLIP folder, built and briefly trained on the spot (no downloads) for image-text tests.

The model learns made-up words (`PAIRS`) for solid colours, so a test can ask for "zorblat" and expect red
pictures: words that no English text model or ImageNet label knows, so only the image-text space can find them.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from torch import Tensor
from torch.nn import functional as F
from transformers import (
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
)

PAIRS: dict[str, tuple[int, int, int]] = {
    "zorblat": (220, 30, 30),
    "quenmir": (30, 60, 220),
    "plivox": (30, 180, 60),
    "druskel": (230, 210, 40),
}
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
FILLERS = "a an the thing photo picture of my one some big this".split()
# Captions the model trains on; "gizmo" is out of vocabulary, so the model also learns to ignore <unk>.
TEMPLATES = ["{}", "a {}", "a {} thing", "a photo of a {}", "the {} picture", "my big {} gizmo", "some {}"]
# Captions of none of the pictures, so text without a made-up word lands away from every colour.
UNRELATED = ["a photo", "the thing", "some big picture", "gizmo", "", "my one blorp", "this an of"]
IMAGE_SIZE = 32
MAX_TOKENS = 16
IMAGES_PER_WORD = 24
STEPS = 200
UNRELATED_PER_STEP = 3


def colour_image(rgb: tuple[int, int, int], size: int = 64, seed: int = 0) -> Image.Image:
    """A solid colour with a little per-pixel noise, so different seeds give different pictures."""
    noise = np.random.default_rng(seed).normal(0.0, 12.0, size=(size, size, 3))
    pixels = np.clip(np.asarray(rgb, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def _tokenizer(family: str) -> PreTrainedTokenizerFast:
    vocab = {word: i for i, word in enumerate(dict.fromkeys([*SPECIALS, *FILLERS, *PAIRS]))}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    # CLIP wraps a text in start and end tokens and pools at the end token; SigLIP appends only the end token.
    single = "<bos> $A <eos>" if family == "clip" else "$A <eos>"
    specials = [(token, vocab[token]) for token in ("<bos>", "<eos>") if token in single]
    tokenizer.post_processor = processors.TemplateProcessing(single=single, special_tokens=specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>", eos_token="<eos>"
    )


def _model(family: str, tokenizer: PreTrainedTokenizerFast) -> CLIPModel | SiglipModel:
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    text = {
        **tower,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": MAX_TOKENS,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    vision = {**tower, "image_size": IMAGE_SIZE, "patch_size": 8}
    if family == "clip":
        return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    with torch.no_grad():  # SigLIP's published initialisation: t = 10, b = -10
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    return model


def _image_processor(family: str) -> CLIPImageProcessorPil | SiglipImageProcessorPil:
    if family == "clip":
        return CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size=IMAGE_SIZE)
    return SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def _features(model: CLIPModel | SiglipModel, pixels: Tensor, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    images = model.get_image_features(pixel_values=pixels).pooler_output
    # SigLIP was trained on texts padded to a fixed length without a mask, and pools the last position.
    texts_mask = mask if isinstance(model, CLIPModel) else None
    texts = model.get_text_features(input_ids=ids, attention_mask=texts_mask).pooler_output
    return F.normalize(images, dim=-1), F.normalize(texts, dim=-1)


def _loss(model: CLIPModel | SiglipModel, images: Tensor, texts: Tensor, same: Tensor) -> Tensor:
    """CLIP: cross-entropy against every caption of the picture's word; SigLIP: its pairwise sigmoid loss.

    `same` is images x texts; texts past the images' count are unrelated captions, negatives for every picture.
    """
    if isinstance(model, SiglipModel):
        logits = images @ texts.T * model.logit_scale.exp() + model.logit_bias
        return -F.logsigmoid(torch.where(same, logits, -logits)).mean()
    logits = images @ texts.T * model.logit_scale.exp()
    # The captions' block is square and symmetric: caption i belongs to picture i, and to every picture of its word.
    square = same[:, : len(images)].float()
    to_text = F.cross_entropy(logits, same.float() / square.sum(dim=1, keepdim=True))
    to_image = F.cross_entropy(logits[:, : len(images)].T, square / square.sum(dim=1, keepdim=True))
    return (to_text + to_image) / 2


def _caption(rng: random.Random, word: str) -> str:
    caption = rng.choice(TEMPLATES).format(word)
    if rng.random() < 0.3:  # long, even cut, captions: the model must still find the word among filler
        caption += " " + " ".join(rng.choices(FILLERS, k=rng.randint(3, 2 * MAX_TOKENS)))
    return caption


def _jitter(rgb: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    r, g, b = (min(255, max(0, c + rng.randint(-25, 25))) for c in rgb)
    return r, g, b


def _train(model: CLIPModel | SiglipModel, family: str, tokenizer: PreTrainedTokenizerFast, *, seed: int) -> None:
    rng = random.Random(seed)
    words = list(PAIRS)
    labels = torch.arange(len(words)).repeat_interleave(IMAGES_PER_WORD)
    # Jittered colours teach "reddish" rather than one exact red.
    pictures = [colour_image(_jitter(PAIRS[words[label]], rng), seed=i) for i, label in enumerate(labels.tolist())]
    pixels = _image_processor(family)(images=pictures, return_tensors="pt")["pixel_values"]
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(STEPS):
        batch = torch.tensor([rng.randrange(len(labels)) for _ in range(16)])
        captions = [_caption(rng, words[label]) for label in labels[batch].tolist()]
        captions += rng.sample(UNRELATED, UNRELATED_PER_STEP)
        tokens = tokenizer(captions, padding="max_length", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        same = F.pad(labels[batch][:, None] == labels[batch][None, :], (0, UNRELATED_PER_STEP), value=False)
        loss = _loss(model, *_features(model, pixels[batch], tokens["input_ids"], tokens["attention_mask"]), same)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()


def write_tiny_clip(folder: Path, *, family: str = "clip", seed: int = 0) -> Path:
    """A trained tiny `family` ("clip" or "siglip") model in a Hugging Face folder that ImageTextModel loads."""
    if family not in ("clip", "siglip"):
        raise ValueError(f"unknown family {family!r}")
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(family)
    threads = torch.get_num_threads()
    # One thread is as fast for matrices this small, and does not collapse when other processes share the CPU.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = _model(family, tokenizer)
            _train(model, family, tokenizer, seed=seed)
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _image_processor(family).save_pretrained(folder)
    return folder


class _Visual(torch.nn.Module):
    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.get_image_features(pixel_values=image).pooler_output


class _Textual(torch.nn.Module):
    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.model.get_text_features(input_ids=text.long()).pooler_output


def _export(model: CLIPModel, folder: Path) -> None:
    torch.onnx.export(
        _Visual(model),
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
        str(folder / "visual" / "model.onnx"),
        input_names=["image"],
        output_names=["embedding"],
        dynamo=False,
    )
    torch.onnx.export(
        _Textual(model),
        (torch.zeros(1, MAX_TOKENS, dtype=torch.int32),),
        str(folder / "textual" / "model.onnx"),
        input_names=["text"],
        output_names=["embedding"],
        dynamo=False,
    )


def write_immich_clip(hf: Path, folder: Path) -> Path:
    """The tiny CLIP folder `hf` exported as Immich keeps a CLIP model: visual/ and textual/ ONNX towers with
    their configs (trove_ml.immich_clip reads them with onnxruntime)."""
    model = CLIPModel.from_pretrained(hf, local_files_only=True).eval()
    for part in ("visual", "textual"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no onnxscript
        warnings.simplefilter("ignore")
        _export(model, folder)
    processor = json.loads((hf / "preprocessor_config.json").read_text())
    config = {
        "embed_dim": model.config.projection_dim,
        "vision_cfg": {"image_size": IMAGE_SIZE},
        "text_cfg": {"context_length": MAX_TOKENS},
    }
    (folder / "config.json").write_text(json.dumps(config))
    preprocess = {"size": [IMAGE_SIZE, IMAGE_SIZE], "mean": processor["image_mean"], "std": processor["image_std"]}
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess))
    shutil.copy(hf / "tokenizer.json", folder / "textual" / "tokenizer.json")
    tokenizer_config = json.loads((hf / "tokenizer_config.json").read_text())
    (folder / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": tokenizer_config["pad_token"]}))
    return folder
