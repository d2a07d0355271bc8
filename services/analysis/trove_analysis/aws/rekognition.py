"""Vision through Rekognition: DetectLabels (with parents as broader terms), DetectText and DetectFaces.

Pictures and video keyframes go to Rekognition as JPEG bytes (at most 5 MB, downscaled when larger); the keyframes
are cut locally (trove_ml.video), as are pixel facts (colours, style) and thumbnails. Documents stay local: a PDF's
text layer is exact and free, and pages without one are read by the local OCR.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from trove_analysis._json import plain
from trove_analysis.aws._client import AwsClients
from trove_analysis.local import decode_image, thumbnail_jpeg
from trove_analysis.metering import report
from trove_analysis.providers import Facts, VisionAnalyzer
from trove_common.offload import ModelExecutor
from trove_ml.errors import MediaError
from trove_ml.pixels import describe_pixels
from trove_ml.video import poster, scenes

API_VERSION = "2016-06-27"
SERVICE = "aws-rekognition-image"  # billing's price: per image of each call
_MEDIA_CODES = frozenset({"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"})


def jpeg_within(image: Image.Image, max_bytes: int) -> bytes:
    """The picture as a JPEG of at most `max_bytes`, downscaled as far as needed."""
    current = image
    while True:
        out = io.BytesIO()
        current.save(out, "JPEG", quality=90)
        if out.tell() <= max_bytes:
            return out.getvalue()
        scale = max(0.1, 0.9 * (max_bytes / out.tell()) ** 0.5)
        current = image.resize((max(1, round(current.width * scale)), max(1, round(current.height * scale))))


def _pixel_box(box: dict[str, float], width: int, height: int) -> list[int]:
    """Rekognition's ratio box as (x0, y0, x1, y1) in pixels, like the local providers' boxes."""
    x0, y0 = round(box.get("Left", 0.0) * width), round(box.get("Top", 0.0) * height)
    return [x0, y0, x0 + round(box.get("Width", 0.0) * width), y0 + round(box.get("Height", 0.0) * height)]


def labels_facts(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rekognition labels as the local labels: names (with aliases), score 0-1, parents as broader terms."""
    found = []
    for label in sorted(labels, key=lambda label: -float(label.get("Confidence", 0.0))):
        names = [label["Name"], *(alias["Name"] for alias in label.get("Aliases", []))]
        parents = [parent["Name"].lower() for parent in label.get("Parents", [])]
        found.append(
            {
                "name": ", ".join(name.lower() for name in names),
                "wnid": "",
                "score": float(label.get("Confidence", 0.0)) / 100,
                "broader": list(dict.fromkeys(parents)),
            }
        )
    return found


def text_facts(detections: list[dict[str, Any]], width: int, height: int) -> dict[str, Any]:
    """DetectText's lines in reading order, with boxes in pixels; words are left out (they repeat the lines)."""
    lines = [
        {"text": d["DetectedText"], "box": _pixel_box(d.get("Geometry", {}).get("BoundingBox", {}), width, height)}
        for d in detections
        if d.get("Type") == "LINE"
    ]
    lines.sort(key=lambda line: (line["box"][1], line["box"][0]))
    return {"text": "\n".join(line["text"] for line in lines), "lines": lines}


class RekognitionVisionAnalyzer:
    """Labels, text and faces of pictures and video keyframes from Rekognition; documents from `documents`."""

    image_model: tuple[str, int] | None = None  # Rekognition gives no image-text vectors

    def __init__(
        self,
        *,
        clients: AwsClients,
        executor: ModelExecutor,
        documents: VisionAnalyzer,
        max_video_pixels: int | None = None,
    ) -> None:
        self._clients = clients
        self._settings = clients.settings
        self._executor = executor
        self._documents = documents
        self._max_video_pixels = max_video_pixels
        self.provider = f"aws/rekognition/{API_VERSION}"

    async def analyze_image(self, path: Path) -> tuple[Facts, bytes]:
        image = await self._executor.run(decode_image, path)
        thumbnail = await self._executor.run(thumbnail_jpeg, image)
        async with self._clients.client("rekognition") as client:
            facts = await self._look(client, image, where="image")
        return plain(facts), thumbnail

    async def analyze_video(self, path: Path, *, max_duration_s: float | None = None) -> tuple[Facts, bytes]:
        cut = await self._executor.run(
            lambda: scenes(path, max_duration_s=max_duration_s, max_pixels=self._max_video_pixels)
        )
        thumbnail = await self._executor.run(lambda: thumbnail_jpeg(poster(path)))
        at_once = asyncio.Semaphore(self._settings.frames_at_once)
        async with self._clients.client("rekognition") as client:

            async def look(scene: Any) -> dict[str, Any]:
                async with at_once:
                    facts = await self._look(client, scene.keyframe, where=f"scene {scene.index}")
                return {"index": scene.index, "start_s": scene.start_s, "end_s": scene.end_s, **facts}

            found = await asyncio.gather(*(look(scene) for scene in cut))
        return plain({"scenes": list(found)}), thumbnail

    async def analyze_document(self, path: Path) -> tuple[Facts, bytes]:
        return await self._documents.analyze_document(path)

    async def _look(self, client: Any, image: Image.Image, *, where: str) -> Facts:
        data = await self._executor.run(jpeg_within, image, self._settings.max_image_bytes)
        pixels = await self._executor.run(describe_pixels, image)
        request = {"Image": {"Bytes": data}}
        try:
            labels, text, faces = await asyncio.gather(
                client.detect_labels(
                    **request,
                    MaxLabels=self._settings.max_labels,
                    MinConfidence=self._settings.min_label_confidence,
                ),
                client.detect_text(**request),
                client.detect_faces(**request, Attributes=["DEFAULT"]),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MEDIA_CODES:
                raise MediaError(f"Rekognition cannot read the picture: {exc}") from exc
            raise
        for name in ("DetectLabels", "DetectText", "DetectFaces"):
            report(service=SERVICE, units=1, call=f"{name} {where}")
        width, height = image.size
        return {
            "width": width,
            "height": height,
            "labels": labels_facts(labels.get("Labels", [])),
            "pixels": {**plain(pixels), "words": pixels.words()},
            "ocr": text_facts(text.get("TextDetections", []), width, height),
            "faces": [
                {
                    "box": _pixel_box(face.get("BoundingBox", {}), width, height),
                    "score": face.get("Confidence", 0.0) / 100,
                }
                for face in faces.get("FaceDetails", [])
            ],
        }
