"""WordNet terms for ImageNet class ids, read from Debian wordnet-base's data.noun."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from trove_ml.wordnet import WordNet, WordNetTerms

CLASSES_TSV = Path(__file__).resolve().parents[2] / "libs" / "trove_ml" / "imagenet_classes.tsv"
ROOTS = {"entity", "physical entity", "abstraction", "object", "whole", "artifact", "living thing", "organism"}


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet()


def _imagenet_wnids() -> list[str]:
    rows = CLASSES_TSV.read_text().splitlines()[1:]
    return [row.split("\t")[1] for row in rows]


def test_tabby_is_a_cat_a_carnivore_a_mammal_and_an_animal(wordnet: WordNet) -> None:
    terms = wordnet.terms("n02123045")

    assert terms.synonyms == ["tabby", "tabby cat"]
    assert {"domestic cat", "cat", "feline", "carnivore", "mammal", "animal"} <= set(terms.broader)
    # Nearest first: the direct hypernym leads.
    assert terms.broader[0] == "domestic cat"
    assert terms.broader.index("cat") < terms.broader.index("mammal")
    assert terms.gloss == "a cat with a grey or tawny coat mottled with black"
    assert not ROOTS & set(terms.broader)


def test_coffee_mug_and_espresso_lead_to_vessels_and_drinks(wordnet: WordNet) -> None:
    mug = wordnet.terms("n03063599")
    espresso = wordnet.terms("n07920052")

    assert mug.synonyms == ["coffee mug"]
    assert {"mug", "drinking vessel", "container"} <= set(mug.broader)
    assert {"coffee", "beverage"} <= set(espresso.broader)
    assert "coffee beans" in espresso.gloss


def test_space_shuttle_is_a_spacecraft_and_a_vehicle(wordnet: WordNet) -> None:
    terms = wordnet.terms("n04266014")

    assert terms.synonyms == ["space shuttle"]
    assert {"spacecraft", "vehicle"} <= set(terms.broader)
    assert "instrumentality" not in terms.broader
    assert "Earth's atmosphere" in terms.gloss


def test_max_depth_bounds_how_far_up_the_terms_go(wordnet: WordNet) -> None:
    assert wordnet.terms("n02123045", max_depth=1).broader == ["domestic cat"]
    assert wordnet.terms("n02123045", max_depth=0).broader == []
    assert len(wordnet.terms("n02123045", max_depth=20).broader) > len(wordnet.terms("n02123045").broader)


@pytest.mark.parametrize(
    "wnid",
    [
        "n99999999",  # past the end of data.noun
        "n00000001",  # inside the licence text at the top
        "n02123046",  # one byte into the tabby line
        "n2123045",  # seven digits
        "02123045",  # no "n"
        "v01168468",  # a verb id
        "",
    ],
)
def test_unknown_ids_give_empty_terms(wordnet: WordNet, wnid: str) -> None:
    assert wordnet.terms(wnid) == WordNetTerms(synonyms=[], broader=[], gloss="")


def test_missing_dictionary_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        WordNet(tmp_path / "wordnet")


def test_every_imagenet_class_gets_terms_quickly() -> None:
    wnids = _imagenet_wnids()
    wordnet = WordNet()  # fresh, so every line is read from disk

    started = time.perf_counter()
    all_terms = [wordnet.terms(wnid) for wnid in wnids]
    seconds = time.perf_counter() - started

    assert len(all_terms) == 1000
    for terms in all_terms:
        assert terms.synonyms and terms.broader and terms.gloss
        assert not ROOTS & set(terms.broader)
        assert not any("_" in word for word in terms.synonyms + terms.broader)
    # 0.05-0.25 s on one core (1,841 lines parsed); the bound only catches reading the whole file per id.
    assert seconds < 10


def test_threads_share_one_reader() -> None:
    wnids = _imagenet_wnids()
    expected = [WordNet().terms(wnid) for wnid in wnids]
    shared = WordNet()

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(shared.terms, wnids)) == expected
