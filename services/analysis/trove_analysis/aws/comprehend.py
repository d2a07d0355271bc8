"""Text through Comprehend: dominant language, entities and key phrases, within its limits.

A synchronous call takes at most 5,000 bytes of UTF-8 per document and a batch at most 25 documents, so the text
is cut at whitespace into such documents, sent in batches, and the answers merged (offsets made relative to the
whole text, repeats dropped, the surest first).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from trove_analysis.aws._client import AwsClients
from trove_analysis.metering import report
from trove_analysis.providers import Facts

API_VERSION = "2017-11-27"
SERVICE = "aws-comprehend"  # billing's price: per unit of 100 characters, at least 3 units per document
MAX_DOCUMENT_BYTES = 5000
MAX_BATCH = 25
MIN_UNITS = 3
KEY_PHRASES = 10  # as many as the local analyzer keeps
# Languages DetectEntities and DetectKeyPhrases support.
ENTITY_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})


def documents(text: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> list[tuple[int, str]]:
    """(offset, piece) pieces of `text` of at most `max_bytes` UTF-8 bytes each, cut at whitespace where possible."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        window = text[start : start + max_bytes]
        encoded = window.encode()
        fits = window if len(encoded) <= max_bytes else encoded[:max_bytes].decode("utf-8", errors="ignore")
        end = start + len(fits)
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            if cut > start:
                end = cut + 1
        if text[start:end].strip():
            pieces.append((start, text[start:end]))
        start = end
    return pieces


def units(document: str) -> float:
    return float(max(MIN_UNITS, math.ceil(len(document) / 100)))


def _batches(pieces: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    for i in range(0, len(pieces), MAX_BATCH):
        yield pieces[i : i + MAX_BATCH]


class ComprehendTextAnalyzer:
    """Language, entities and key phrases of a text from Amazon Comprehend's batch calls."""

    def __init__(self, *, clients: AwsClients) -> None:
        self._clients = clients
        self._max_chars = clients.settings.max_text_chars
        self.provider = f"aws/comprehend/{API_VERSION}"

    async def analyze(self, text: str) -> Facts:
        pieces = documents(text[: self._max_chars])
        if not pieces:
            return {"language": "", "entities": [], "key_phrases": []}
        async with self._clients.client("comprehend") as client:
            language = await self._language(client, pieces)
            entities: list[dict[str, Any]] = []
            phrases: list[dict[str, Any]] = []
            if language in ENTITY_LANGUAGES:
                for batch in _batches(pieces):
                    found = await self._batch(client, "BatchDetectEntities", batch, LanguageCode=language)
                    entities += [
                        {
                            "text": e["Text"],
                            "label": e["Type"],
                            "start_char": offset + e["BeginOffset"],
                            "end_char": offset + e["EndOffset"],
                            "score": e.get("Score", 0.0),
                        }
                        for offset, answer in found
                        for e in answer.get("Entities", [])
                    ]
                    found = await self._batch(client, "BatchDetectKeyPhrases", batch, LanguageCode=language)
                    phrases += [p for _, answer in found for p in answer.get("KeyPhrases", [])]
        return {
            "language": language.split("-")[0],
            "entities": _unique_entities(entities),
            "key_phrases": _top_phrases(phrases),
        }

    async def _language(self, client: Any, pieces: list[tuple[int, str]]) -> str:
        """The language with the most characters behind it, weighted by Comprehend's score."""
        weight: dict[str, float] = {}
        for batch in _batches(pieces):
            for (_, piece), (_, answer) in zip(
                batch, await self._batch(client, "BatchDetectDominantLanguage", batch), strict=False
            ):
                for found in answer.get("Languages", [])[:1]:
                    code = found["LanguageCode"]
                    weight[code] = weight.get(code, 0.0) + len(piece) * float(found.get("Score", 0.0))
        return max(weight, key=lambda code: weight[code]) if weight else ""

    async def _batch(
        self, client: Any, call: str, batch: list[tuple[int, str]], **extra: str
    ) -> list[tuple[int, dict[str, Any]]]:
        """(offset, answer) of each document the batch call answered; documents it refused are skipped."""
        method = getattr(
            client,
            {
                "BatchDetectDominantLanguage": "batch_detect_dominant_language",
                "BatchDetectEntities": "batch_detect_entities",
                "BatchDetectKeyPhrases": "batch_detect_key_phrases",
            }[call],
        )
        answer = await method(TextList=[piece for _, piece in batch], **extra)
        report(service=SERVICE, units=sum(units(piece) for _, piece in batch), call=call)
        by_index = {r["Index"]: r for r in answer.get("ResultList", [])}
        return [(batch[i][0], by_index[i]) for i in range(len(batch)) if i in by_index]


def _unique_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for entity in sorted(entities, key=lambda e: (-e["score"], e["start_char"])):
        key = (entity["text"].casefold(), entity["label"])
        if key not in seen:
            seen.add(key)
            unique.append({k: entity[k] for k in ("text", "label", "start_char", "end_char")})
    return unique


def _top_phrases(phrases: list[dict[str, Any]]) -> list[str]:
    best: dict[str, tuple[float, str]] = {}
    for phrase in phrases:
        key = phrase["Text"].casefold()
        if key not in best or phrase.get("Score", 0.0) > best[key][0]:
            best[key] = (float(phrase.get("Score", 0.0)), phrase["Text"])
    return [text for _, text in sorted(best.values(), key=lambda p: -p[0])][:KEY_PHRASES]
