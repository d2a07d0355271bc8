"""Comprehend's DetectDominantLanguage, DetectEntities and DetectKeyPhrases (2017-11-27), single and batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from trove_awssim.models import ENTITY_TYPES, LocalModels
from trove_awssim.wire import AwsError, field

MAX_TEXT_BYTES = 5000  # per document of a synchronous call
MAX_BATCH = 25
LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW")


def _text(text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise AwsError("InvalidRequestException", "Text must be a non-empty string")
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise AwsError("TextSizeLimitExceededException", f"Input text size exceeds limit. Max length: {MAX_TEXT_BYTES}")
    return text


def _language_code(body: dict[str, Any]) -> str:
    code = str(field(body, "LanguageCode"))
    if code not in LANGUAGES:
        raise AwsError("UnsupportedLanguageException", f"Unsupported language: {code}")
    return code


class Comprehend:
    """The Comprehend calls Trove uses, answered by spaCy, YAKE and Lingua."""

    def __init__(self, *, models: LocalModels) -> None:
        self._models = models

    async def _languages(self, text: str) -> list[dict[str, Any]]:
        facts = await asyncio.to_thread(self._models.text_facts, _text(text))
        return [{"LanguageCode": facts.language, "Score": 1.0}] if facts.language else []

    async def _entities(self, text: str) -> list[dict[str, Any]]:
        facts = await asyncio.to_thread(self._models.text_facts, _text(text))
        return [
            {
                "Score": 0.99,
                "Type": ENTITY_TYPES.get(entity.label, "OTHER"),
                "Text": entity.text,
                "BeginOffset": entity.start_char,
                "EndOffset": entity.end_char,
            }
            for entity in facts.entities
        ]

    async def _key_phrases(self, text: str) -> list[dict[str, Any]]:
        facts = await asyncio.to_thread(self._models.text_facts, _text(text))
        phrases = []
        for rank, phrase in enumerate(facts.key_phrases):
            begin = text.casefold().find(phrase.casefold())
            begin = max(begin, 0)
            score = 1.0 - rank / (2 * len(facts.key_phrases))  # YAKE ranks them; the first is the most telling
            phrases.append({"Score": score, "Text": phrase, "BeginOffset": begin, "EndOffset": begin + len(phrase)})
        return phrases

    async def DetectDominantLanguage(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"Languages": await self._languages(field(body, "Text"))}

    async def DetectEntities(self, body: dict[str, Any]) -> dict[str, Any]:
        _language_code(body)
        return {"Entities": await self._entities(field(body, "Text"))}

    async def DetectKeyPhrases(self, body: dict[str, Any]) -> dict[str, Any]:
        _language_code(body)
        return {"KeyPhrases": await self._key_phrases(field(body, "Text"))}

    async def BatchDetectDominantLanguage(self, body: dict[str, Any]) -> dict[str, Any]:
        return await _batch(body, "Languages", self._languages)

    async def BatchDetectEntities(self, body: dict[str, Any]) -> dict[str, Any]:
        _language_code(body)
        return await _batch(body, "Entities", self._entities)

    async def BatchDetectKeyPhrases(self, body: dict[str, Any]) -> dict[str, Any]:
        _language_code(body)
        return await _batch(body, "KeyPhrases", self._key_phrases)


async def _batch(
    body: dict[str, Any], key: str, detect: Callable[[str], Awaitable[list[dict[str, Any]]]]
) -> dict[str, Any]:
    texts = field(body, "TextList")
    if not isinstance(texts, list) or not texts:
        raise AwsError("InvalidRequestException", "TextList must be a non-empty list")
    if len(texts) > MAX_BATCH:
        raise AwsError("BatchSizeLimitExceededException", f"Batch size exceeds limit. Max size: {MAX_BATCH}")
    results, errors = [], []
    for index, text in enumerate(texts):
        try:
            results.append({"Index": index, key: await detect(text)})
        except AwsError as exc:  # a batch answers each document's error in its ErrorList
            errors.append({"Index": index, "ErrorCode": exc.code, "ErrorMessage": exc.message})
    return {"ResultList": results, "ErrorList": errors}
