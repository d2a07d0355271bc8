"""The Comprehend provider against the simulator: texts cut to Comprehend's limits, batched, and merged back."""

from __future__ import annotations

import pytest
from aws.cloud_support import Sim, settings_for

from trove_analysis.aws._client import AwsClients
from trove_analysis.aws.comprehend import ComprehendTextAnalyzer, documents
from trove_analysis.errors import ProviderSetupError
from trove_analysis.metering import metered
from trove_awssim.launch import Cloud

SENTENCE = "Grace Hopper worked at Harvard University in Cambridge, Massachusetts in 1944. "


def test_documents_fit_5000_utf8_bytes_and_cover_the_text() -> None:
    text = ("Café Ω " * 2000) + "\n" + ("end " * 10)
    pieces = documents(text)
    assert all(len(piece.encode()) <= 5000 for _, piece in pieces)
    assert "".join(piece for _, piece in pieces) == text
    assert all(text[offset : offset + len(piece)] == piece for offset, piece in pieces)
    assert all(piece.endswith((" ", "\n")) for _, piece in pieces[:-1])  # cut at whitespace, not inside a word


async def test_entities_key_phrases_and_language_of_a_short_text(clients: AwsClients, sim: Sim) -> None:
    analyzer = ComprehendTextAnalyzer(clients=clients)
    assert analyzer.provider == "aws/comprehend/2017-11-27"
    with metered() as calls:
        facts = await analyzer.analyze(SENTENCE)
    assert facts["language"] == "en"
    assert {"text": "Grace Hopper", "label": "PERSON", "start_char": 0, "end_char": 12} in facts["entities"]
    assert any("harvard" in phrase.lower() for phrase in facts["key_phrases"])
    # Three calls of one 80-character document, each billed Comprehend's 3-unit minimum.
    assert [(call.service, call.call, call.units) for call in calls] == [
        ("aws-comprehend", "BatchDetectDominantLanguage", 3.0),
        ("aws-comprehend", "BatchDetectEntities", 3.0),
        ("aws-comprehend", "BatchDetectKeyPhrases", 3.0),
    ]


async def test_a_long_text_goes_in_batches_of_25_and_offsets_point_into_it(cloud: Cloud, sim: Sim) -> None:
    text = "".join(f"Meeting {i} with Ada Lovelace in London on Monday. " * 90 + "\n" for i in range(30))
    assert len(text.encode()) > 26 * 5000
    clients = AwsClients(settings_for(cloud, max_text_chars=200_000))
    with metered() as billed:
        facts = await ComprehendTextAnalyzer(clients=clients).analyze(text)
    for entity in facts["entities"]:
        assert text[entity["start_char"] : entity["end_char"]] == entity["text"]
    assert any(entity["text"] == "Ada Lovelace" for entity in facts["entities"])
    calls = [call["target"] for call in await sim.calls()]
    assert calls.count("Comprehend_20171127.BatchDetectEntities") == 2  # more than 25 documents: two batches
    assert len(billed) == 6
    assert sum(call.units for call in billed if call.call == "BatchDetectEntities") >= len(text) / 100


async def test_throttling_is_retried(clients: AwsClients, sim: Sim) -> None:
    await sim.throttle(3, "Comprehend_20171127.")
    facts = await ComprehendTextAnalyzer(clients=clients).analyze(SENTENCE)
    assert facts["entities"]
    assert [call["error"] for call in await sim.calls()][:4] == ["ThrottlingException"] * 3 + [""]


async def test_a_wrong_access_key_fails_for_good_naming_the_setting(cloud: Cloud) -> None:
    clients = AwsClients(settings_for(cloud, access_key_id="AKIDWRONGWRONGWRONG1"))
    with pytest.raises(ProviderSetupError, match="TROVE_ANALYSIS_AWS__ACCESS_KEY_ID"):
        await ComprehendTextAnalyzer(clients=clients).analyze(SENTENCE)


async def test_blank_text_makes_no_call(clients: AwsClients, sim: Sim) -> None:
    with metered() as billed:
        facts = await ComprehendTextAnalyzer(clients=clients).analyze("  \n ")
    assert facts == {"language": "", "entities": [], "key_phrases": []}
    assert await sim.calls() == [] and billed == []
