"""The local vision provider: safe image decoding and ImageNet labels from the packaged classifier."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from trove_analysis.errors import MediaError
from trove_analysis.models import ImageAnalysis, Label
from trove_common.offload import ModelExecutor
from trove_ml import ImageClassifier

# Labels below this softmax score only add noise to the description, except the top one which is always kept.
MIN_LABEL_SCORE = 0.05
TOP_K = 5


def decode_image(path: Path, *, max_pixels: int) -> Image.Image:
    """Open, size-check and fully decode an image, turning every way it can be broken into a MediaError."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise MediaError(
                    f"the image is {width}x{height} pixels; images over {max_pixels:,} pixels are not analysed"
                )
            img.load()
            return ImageOps.exif_transpose(img) or img
    except UnidentifiedImageError as exc:
        raise MediaError("the file is not a readable image") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(f"the image is too large to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"the image is corrupt or truncated: {exc}") from exc


def describe(labels: list[Label]) -> str:
    """A sentence the text embedder can match against plain-language queries."""
    kept = [labels[0], *(label for label in labels[1:] if label.score >= MIN_LABEL_SCORE)] if labels else []
    if not kept:
        return "a picture"
    names = "; ".join(label.name for label in kept)
    return f"a photo of {kept[0].name.split(',')[0]}. It may show: {names}."


class LocalVisionAnalyzer:
    """ImageNet labels from EfficientNet-Lite0, on the CPU, in the model executor."""

    def __init__(self, *, executor: ModelExecutor, max_pixels: int) -> None:
        self._classifier = ImageClassifier()
        self._executor = executor
        self._max_pixels = max_pixels
        self.provider = f"local/{self._classifier.model_name}/1"

    async def analyze_image(self, path: Path) -> ImageAnalysis:
        return await self._executor.run(self._analyze, path)

    def _analyze(self, path: Path) -> ImageAnalysis:
        image = decode_image(path, max_pixels=self._max_pixels)
        labels = [
            Label(name=label.name, wnid=label.wnid, score=label.score)
            for label in self._classifier.classify(image, top_k=TOP_K)
        ]
        return ImageAnalysis(width=image.width, height=image.height, labels=labels, description=describe(labels))
