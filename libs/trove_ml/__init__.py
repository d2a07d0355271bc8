"""Local CPU models whose weights ship inside pip packages: an ImageNet classifier and a sentence embedder."""

from __future__ import annotations

from trove_ml.image_classifier import ImageClassifier, Label
from trove_ml.text_embedder import TextEmbedder

__all__ = ["ImageClassifier", "Label", "TextEmbedder"]
