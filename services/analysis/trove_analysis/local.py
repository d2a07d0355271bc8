"""The local providers: models whose weights ship inside packages, run on the CPU in the model executor."""

from __future__ import annotations

import base64
import io
import threading
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from trove_analysis._json import plain
from trove_common.offload import ModelExecutor
from trove_ml import ImageClassifier
from trove_ml.errors import MediaError
from trove_ml.faces import FaceFinder, face_crop_jpeg
from trove_ml.image_text import ImageTextModel
from trove_ml.ocr import TextReader
from trove_ml.pdf import read_pdf, render_page
from trove_ml.pixels import describe_pixels
from trove_ml.probe import probe
from trove_ml.speech import Transcriber
from trove_ml.text_analysis import TextAnalyzer
from trove_ml.video import poster, scenes
from trove_ml.wordnet import WordNet

TOP_LABELS = 5
THUMBNAIL_PX = 512
FRAME_PX = 320  # a scene keyframe shown beside a result


def decode_image(path: Path) -> Image.Image:
    """A fully decoded RGB image with its EXIF orientation applied (the probe has already checked its size)."""
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"the image is corrupt or truncated: {exc}") from exc


def thumbnail_jpeg(image: Image.Image, *, side_px: int = THUMBNAIL_PX, quality: int = 85) -> bytes:
    thumb = image.convert("RGB")
    thumb.thumbnail((side_px, side_px))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=quality)
    return out.getvalue()


class LocalVisionAnalyzer:
    """Pictures, video scenes and document pages: labels (EfficientNet-Lite0 + WordNet broader terms), pixel
    facts, text (RapidOCR, or a PDF's text layer), faces (dlib) and, when the user supplied an image-text model,
    each picture's vector in its space. Methods return plain JSON values."""

    def __init__(
        self,
        *,
        executor: ModelExecutor,
        wordnet_dir: Path,
        max_pdf_pages: int,
        image_text: ImageTextModel | None = None,
        max_video_pixels: int | None = None,
    ) -> None:
        self._executor = executor
        self._max_video_pixels = max_video_pixels
        self._image_text = image_text
        self.provider = "local/efficientnet-lite0+wordnet+rapidocr+dlib/1" + (
            f"+{image_text.name}" if image_text else ""
        )
        self.image_model = (image_text.name, image_text.dim) if image_text else None
        self._classifier = ImageClassifier()
        self._wordnet = WordNet(wordnet_dir)
        self._reader = TextReader()
        self._faces = FaceFinder()
        self._max_pdf_pages = max_pdf_pages
        # dlib's detectors and the OCR pipeline are not safe to call from two threads at once (two concurrent
        # jobs crashed a worker with SIGSEGV); one picture at a time, other stages still run alongside.
        self._looking = threading.Lock()

    async def analyze_image(self, path: Path) -> tuple[dict[str, Any], bytes]:
        """What the picture shows, and its thumbnail."""

        def run() -> tuple[dict[str, Any], bytes]:
            image = decode_image(path)
            return self._look(image), thumbnail_jpeg(image)

        return await self._executor.run(run)

    async def analyze_video(self, path: Path, *, max_duration_s: float | None = None) -> tuple[dict[str, Any], bytes]:
        """Each scene's span, what its keyframe shows and the keyframe as a small JPEG, and a poster thumbnail."""

        def run() -> tuple[dict[str, Any], bytes]:
            cut = scenes(path, max_duration_s=max_duration_s, max_pixels=self._max_video_pixels)
            found = [{"index": s.index, "start_s": s.start_s, "end_s": s.end_s, **self._look(s.keyframe)} for s in cut]
            facts: dict[str, Any] = plain({"scenes": found})
            for scene, cut_scene in zip(facts["scenes"], cut, strict=True):
                scene["frame_jpeg"] = thumbnail_jpeg(cut_scene.keyframe, side_px=FRAME_PX, quality=75)
            return facts, thumbnail_jpeg(poster(path))

        return await self._executor.run(run)

    async def analyze_document(self, path: Path) -> tuple[dict[str, Any], bytes]:
        """Each page's text (its text layer, or OCR of the rendered page), and the first page as thumbnail."""

        def run() -> tuple[dict[str, Any], bytes]:
            text = read_pdf(path, reader=self._reader, max_pages=self._max_pdf_pages)
            return plain(text), thumbnail_jpeg(render_page(path, 1, dpi=72))

        return await self._executor.run(run)

    def _look(self, image: Image.Image) -> dict[str, Any]:
        with self._looking:
            return self._look_unlocked(image)

    def _look_unlocked(self, image: Image.Image) -> dict[str, Any]:
        labels = []
        for label in self._classifier.classify(image, top_k=TOP_LABELS):
            terms = self._wordnet.terms(label.wnid)
            labels.append({"name": label.name, "wnid": label.wnid, "score": label.score, "broader": terms.broader})
        ocr = self._reader.read(image)
        pixels = describe_pixels(image)
        faces = self._faces.find(image)
        facts: dict[str, Any] = plain(
            {
                "width": image.width,
                "height": image.height,
                "labels": labels,
                "pixels": {**plain(pixels), "words": pixels.words()},
                "ocr": {"text": ocr.text, "lines": [{"text": line.text, "box": line.box} for line in ocr.lines]},
                "faces": [
                    {
                        "box": face.box,
                        "score": face.score,
                        "embedding": face.embedding,
                        "crop": base64.b64encode(face_crop_jpeg(image, face.box)).decode(),
                    }
                    for face in faces
                ],
            }
        )
        if self._image_text is not None:
            facts["image_vector"] = self._image_text.embed_images([image])[0].tolist()
        return facts


class LocalTranscriber:
    """Whisper base (faster-whisper, int8) with voice-activity detection; timed segments and words."""

    def __init__(self, *, executor: ModelExecutor, model_dir: Path, threads: int) -> None:
        self._executor = executor
        self._model = Transcriber(model_dir, threads=threads)
        self.provider = f"local/{self._model.model_name}/1"

    async def transcribe(self, path: Path, *, max_duration_s: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = plain(
            await self._executor.run(self._model.transcribe, path, max_duration_s=max_duration_s)
        )
        return result


class LocalTextAnalyzer:
    """Entities (spaCy), key phrases (YAKE) and language (Lingua) of a text."""

    def __init__(self, *, executor: ModelExecutor) -> None:
        self._executor = executor
        self._model = TextAnalyzer()
        self.provider = f"local/{self._model.model_name}/1"

    async def analyze(self, text: str) -> dict[str, Any]:
        result: dict[str, Any] = plain(await self._executor.run(self._model.analyze, text))
        return result


async def probe_file(executor: ModelExecutor, path: Path, *, max_pixels: int) -> dict[str, Any]:
    """Kind (from the content), duration, dimensions, codecs and EXIF of a stored file."""
    result: dict[str, Any] = plain(await executor.run(probe, path, max_pixels=max_pixels))
    return result
