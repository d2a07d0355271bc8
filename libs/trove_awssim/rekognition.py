"""Rekognition's DetectLabels, DetectText and DetectFaces (API version 2016-06-27) on an image's bytes or S3 object."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from typing import Any

from PIL import Image, ImageOps

from trove_awssim.models import LocalModels
from trove_awssim.s3 import S3Reader
from trove_awssim.wire import AwsError, field

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # inline Bytes; S3 objects may be 15 MB
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024


def _box(box: tuple[int, int, int, int], size: tuple[int, int]) -> dict[str, float]:
    x0, y0, x1, y1 = box
    width, height = size
    return {"Width": (x1 - x0) / width, "Height": (y1 - y0) / height, "Left": x0 / width, "Top": y0 / height}


class Rekognition:
    """The Rekognition calls Trove uses, answered by the local models."""

    def __init__(self, *, models: LocalModels, s3: S3Reader) -> None:
        self._models = models
        self._s3 = s3

    async def _image(self, body: dict[str, Any]) -> Image.Image:
        spec = field(body, "Image")
        if "Bytes" in spec:
            try:
                data = base64.b64decode(spec["Bytes"], validate=True)
            except (binascii.Error, TypeError) as exc:
                raise AwsError("InvalidImageFormatException", "Request has invalid image format") from exc
            limit = MAX_IMAGE_BYTES
        elif "S3Object" in spec:
            data = await self._s3.read(bucket=spec["S3Object"]["Bucket"], key=spec["S3Object"]["Name"])
            limit = MAX_S3_IMAGE_BYTES
        else:
            raise AwsError("InvalidParameterException", "Image must have Bytes or S3Object")
        if len(data) > limit:
            raise AwsError("ImageTooLargeException", f"Image size is too large: {len(data)} bytes")
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in ("JPEG", "PNG"):
                    raise AwsError("InvalidImageFormatException", "Request has unsupported image format")
                img.load()
                return ImageOps.exif_transpose(img).convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:
            raise AwsError("InvalidImageFormatException", "Request has invalid image format") from exc

    async def DetectLabels(self, body: dict[str, Any]) -> dict[str, Any]:
        image = await self._image(body)
        max_labels = int(body.get("MaxLabels", 1000))
        min_confidence = float(body.get("MinConfidence", 55.0))
        found = await asyncio.to_thread(self._models.labels, image, max_labels=min(max_labels, 20))
        return {
            "Labels": [
                {
                    "Name": label.name,
                    "Confidence": label.confidence,
                    "Instances": [],
                    "Parents": [{"Name": parent} for parent in label.parents],
                    "Aliases": [{"Name": alias} for alias in label.aliases],
                    "Categories": [],
                }
                for label in found
                if label.confidence >= min_confidence
            ][:max_labels],
            "LabelModelVersion": "3.0",
        }

    async def DetectText(self, body: dict[str, Any]) -> dict[str, Any]:
        image = await self._image(body)
        detections: list[dict[str, Any]] = []
        for i, line in enumerate(await asyncio.to_thread(self._models.lines, image)):
            box = _box(line.box, image.size)
            geometry = {"BoundingBox": box, "Polygon": []}
            detections.append(
                {
                    "DetectedText": line.text,
                    "Type": "LINE",
                    "Id": i,
                    "Confidence": line.confidence,
                    "Geometry": geometry,
                }
            )
        words = [
            {"DetectedText": word, "Type": "WORD", "Id": len(detections) + j, "ParentId": line["Id"]}
            | {"Confidence": line["Confidence"], "Geometry": line["Geometry"]}
            for line in list(detections)
            for j, word in enumerate(str(line["DetectedText"]).split())
        ]
        return {"TextDetections": detections + words, "TextModelVersion": "3.0"}

    async def DetectFaces(self, body: dict[str, Any]) -> dict[str, Any]:
        image = await self._image(body)
        faces = await asyncio.to_thread(self._models.faces, image)
        return {
            "FaceDetails": [
                {"BoundingBox": _box(face.box, image.size), "Confidence": face.confidence, "Landmarks": []}
                for face in faces
            ]
        }
