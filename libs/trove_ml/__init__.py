"""Local CPU models: an ImageNet classifier and a sentence embedder whose weights ship inside pip packages, and
an image-text (CLIP/SigLIP) model from a folder the user supplies."""

from __future__ import annotations

import os

# onnxruntime's official Linux builds keep a device id and a telemetry store under ~/.cache/Microsoft and would
# upload them; a self-hosted, offline product opts out. Read once, when onnxruntime initialises, so it is set before
# any module of this package imports onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import pillow_heif
import torch

from trove_ml.image_classifier import ImageClassifier, Label
from trove_ml.image_text import ImageTextModel
from trove_ml.text_embedder import TextEmbedder

__all__ = ["ImageClassifier", "ImageTextModel", "Label", "TextEmbedder", "limit_torch_threads"]

# iPhones save photos as HEIC; Pillow reads them only through this plugin, registered once for every user of
# Pillow in the process (probe, decoding, thumbnails).
pillow_heif.register_heif_opener()


def limit_torch_threads(threads: int) -> None:
    """Cap torch's intra-op threads for this process.

    Services run several inferences at once in their model executor; torch's default of one thread per core
    per inference oversubscribes the CPU (measured: a query embedding went from 26 ms to 580 ms under load).
    """
    torch.set_num_threads(threads)
