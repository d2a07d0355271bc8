"""Trove's local models behind the simulator: what each simulated call answers, in AWS's terms.

Scores are the local models' own: a label's Confidence is the classifier's probability x 100, a face's the
detector's margin squashed into 0-100, a language's Lingua's choice (Score 1.0). They are real answers about the
media, not AWS's, which is the point: the simulated cloud path gives searchable results.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from trove_ml import ImageClassifier
from trove_ml.faces import FaceFinder
from trove_ml.ocr import TextReader
from trove_ml.speech import Transcriber, Transcript
from trove_ml.text_analysis import TextAnalyzer, TextFacts
from trove_ml.wordnet import WordNet

# spaCy's labels in Comprehend's entity types (Comprehend has nine).
ENTITY_TYPES = {
    "PERSON": "PERSON",
    "NORP": "OTHER",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "DATE": "DATE",
    "TIME": "DATE",
    "EVENT": "EVENT",
    "PRODUCT": "COMMERCIAL_ITEM",
    "WORK_OF_ART": "TITLE",
    "MONEY": "QUANTITY",
    "QUANTITY": "QUANTITY",
    "PERCENT": "QUANTITY",
    "CARDINAL": "QUANTITY",
    "ORDINAL": "QUANTITY",
}


@dataclass(frozen=True, slots=True)
class SimLabel:
    name: str
    aliases: list[str]
    parents: list[str]
    confidence: float


@dataclass(frozen=True, slots=True)
class SimLine:
    text: str
    confidence: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SimFace:
    box: tuple[int, int, int, int]
    confidence: float


class LocalModels:
    """The local models, loaded on first use; dlib and the OCR pipeline are used by one thread at a time."""

    def __init__(self, *, model_dir: Path, wordnet_dir: Path, threads: int = 1) -> None:
        self._classifier = ImageClassifier()
        self._wordnet = WordNet(wordnet_dir)
        self._reader = TextReader()
        self._faces = FaceFinder()
        self._speech = Transcriber(model_dir / "whisper-base", threads=threads)
        self._text = TextAnalyzer()
        self._looking = threading.Lock()

    def labels(self, image: Image.Image, *, max_labels: int) -> list[SimLabel]:
        found = []
        for label in self._classifier.classify(image, top_k=max_labels):
            names = [name.strip() for name in label.name.split(",") if name.strip()]
            terms = self._wordnet.terms(label.wnid)
            found.append(
                SimLabel(name=names[0], aliases=names[1:], parents=list(terms.broader), confidence=label.score * 100)
            )
        return found

    def lines(self, image: Image.Image) -> list[SimLine]:
        with self._looking:
            read = self._reader.read(image)
        return [SimLine(text=line.text, confidence=line.score * 100, box=line.box) for line in read.lines]

    def faces(self, image: Image.Image) -> list[SimFace]:
        with self._looking:
            found = self._faces.find(image)
        # A HOG margin of 0.3 (the cut-off) reads as 50, real faces (0.5 and up) as 62 and more.
        return [SimFace(box=face.box, confidence=100 * face.score / (face.score + 0.3)) for face in found]

    def transcribe(self, path: Path) -> Transcript:
        return self._speech.transcribe(path)

    @functools.lru_cache(maxsize=256)  # noqa: B019 -- one instance per process; entities and phrases ask twice
    def text_facts(self, text: str) -> TextFacts:
        return self._text.analyze(text)
