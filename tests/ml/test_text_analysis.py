"""TextAnalyzer on the dev transcripts, the dev invoice's OCR text and sentences in other languages."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import DEV_MEDIA

from trove_ml.text_analysis import TextAnalyzer, TextFacts

TRANSCRIPTS: dict[str, str] = json.loads((DEV_MEDIA / "transcripts.json").read_text())
# What TextReader reads from invoice_printing.png: one line of text per printed line.
INVOICE_OCR = (
    "NORTHWIND PRINTING CO.\nInvoice #4471\n500 business cards ..... 64.00\nPoster A2 x3 ........... 45.00\n"
    "TOTAL DUE: 109.00 EUR\nPay by 15 March"
)


@pytest.fixture(scope="module")
def analyzer() -> TextAnalyzer:
    return TextAnalyzer()


def _labelled(facts: TextFacts, label: str) -> list[str]:
    return [entity.text for entity in facts.entities if entity.label == label]


def test_standup_transcript_names_people_and_the_bug(analyzer: TextAnalyzer) -> None:
    text = TRANSCRIPTS["standup_meeting.wav"]

    facts = analyzer.analyze(text)

    assert facts.language == "en"
    assert {"Maria", "Tom"} <= set(_labelled(facts, "PERSON"))
    assert "payment bug" in facts.key_phrases
    assert 1 <= len(facts.key_phrases) <= 10
    assert all(phrase == phrase.lower() for phrase in facts.key_phrases)
    for entity in facts.entities:
        assert text[entity.start_char : entity.end_char] == entity.text


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Morgen früh regnet es in ganz Bayern, am Nachmittag kommt die Sonne zurück.", "de"),
        ("Nous avons visité le vieux temple dans les collines avant de boire un café au village.", "fr"),
    ],
)
def test_german_and_french_are_told_apart_and_get_no_english_entities(
    analyzer: TextAnalyzer, text: str, language: str
) -> None:
    facts = analyzer.analyze(text)

    assert facts.language == language
    # The English NER model would tag "Morgen" as an ORG and "dans" as a NORP.
    assert facts.entities == []
    assert facts.key_phrases


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_blank_text_gives_empty_facts(analyzer: TextAnalyzer, text: str) -> None:
    assert analyzer.analyze(text) == TextFacts(language="", entities=[], key_phrases=[])


def test_a_single_name_is_too_short_to_tell_the_language(analyzer: TextAnalyzer) -> None:
    assert analyzer.analyze("Tom").language == ""


@pytest.mark.parametrize(
    ("total_line", "money"), [("TOTAL DUE: 109.00 EUR", "109.00 EUR"), ("TOTAL DUE $109.00", "109.00")]
)
def test_invoice_ocr_text_gives_the_total_and_what_was_bought(
    analyzer: TextAnalyzer, total_line: str, money: str
) -> None:
    text = INVOICE_OCR.replace("TOTAL DUE: 109.00 EUR", total_line)

    facts = analyzer.analyze(text)

    assert facts.language == "en"
    assert money in _labelled(facts, "MONEY")
    assert "NORTHWIND PRINTING CO." in _labelled(facts, "ORG")
    assert any("business cards" in phrase for phrase in facts.key_phrases)
    # OCR lines are separate fields: neither an entity nor a key phrase runs from one line into the next.
    assert not any("\n" in entity.text for entity in facts.entities)
    assert "eur pay" not in facts.key_phrases
    assert not _labelled(facts, "CARDINAL")


def test_repeated_entities_and_phrases_are_listed_once(analyzer: TextAnalyzer) -> None:
    text = "Maria called Google. Later Maria emailed GOOGLE again about the payment bug. The payment bug is fixed."

    facts = analyzer.analyze(text)

    assert _labelled(facts, "PERSON") == ["Maria"]
    assert len(set(facts.key_phrases)) == len(facts.key_phrases)
    keys = [(entity.text.casefold(), entity.label) for entity in facts.entities]
    assert len(set(keys)) == len(keys)


def test_text_past_the_cap_is_ignored(analyzer: TextAnalyzer) -> None:
    filler = TRANSCRIPTS["holiday.mp4"] + "\n"
    text = filler * (100_000 // len(filler) + 1) + "Then Zebulon Pike visited Kathmandu.\n" + filler * 10

    facts = analyzer.analyze(text)

    assert facts.language == "en"
    assert not any("Zebulon" in entity.text or "Kathmandu" in entity.text for entity in facts.entities)
    assert all(entity.end_char <= 100_000 for entity in facts.entities)


def test_threads_share_one_analyzer(analyzer: TextAnalyzer) -> None:
    texts = [*TRANSCRIPTS.values(), INVOICE_OCR] * 3
    expected = [analyzer.analyze(text) for text in texts]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(analyzer.analyze, texts)) == expected


def test_model_name_carries_the_versions(analyzer: TextAnalyzer) -> None:
    assert analyzer.model_name.startswith("en_core_web_sm-3.8.0+yake-")
    assert "+lingua-" in analyzer.model_name
