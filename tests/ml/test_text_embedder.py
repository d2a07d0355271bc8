"""Tests for the all-MiniLM-L6-v2 sentence embedder."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from trove_ml import TextEmbedder

# First components of sentence-transformers' own embedding of "a cat on the sofa" (recorded once, offline).
CAT_ON_SOFA_PREFIX = [0.143147, -0.076627, -0.024053, 0.007583, -0.031775, 0.048971, 0.022128, -0.035675]


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder()


def test_rows_are_unit_length_float32(embedder: TextEmbedder) -> None:
    vectors = embedder.embed(["a cat on the sofa", "", "Héllo wörld — naïve café ☕ 東京"])

    assert vectors.shape == (3, TextEmbedder.dim) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_matches_sentence_transformers(embedder: TextEmbedder) -> None:
    vector = embedder.embed(["a cat on the sofa"])[0]

    np.testing.assert_allclose(vector[:8], CAT_ON_SOFA_PREFIX, atol=1e-4)


def test_similar_meaning_is_closer(embedder: TextEmbedder) -> None:
    cat, kitten, invoice = embedder.embed(
        ["a cat on the sofa", "a kitten sleeping on a couch", "quarterly invoice total"]
    )

    assert cat @ kitten > 0.6
    assert cat @ kitten > cat @ invoice + 0.4


def test_is_deterministic_and_independent_of_batching(embedder: TextEmbedder) -> None:
    texts = [f"note {i}: " + "the rocket launch was delayed by weather " * (i % 5) for i in range(12)]

    together = embedder.embed(texts)
    again = embedder.embed(texts)
    one_by_one = np.stack([embedder.embed([text])[0] for text in texts])
    reversed_order = embedder.embed(texts[::-1])[::-1]

    np.testing.assert_array_equal(together, again)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(together, reversed_order, atol=1e-5)


def test_long_texts_are_cut_at_256_tokens(embedder: TextEmbedder) -> None:
    # 200 filler words are past the tokenizer file's own 128-token limit but within 256.
    filler = "word " * 200
    long_cat, long_invoice, longer, longest = embedder.embed(
        [filler + "cat", filler + "invoice", "word " * 300, "word " * 1000]
    )

    assert not np.allclose(long_cat, long_invoice, atol=1e-4)
    np.testing.assert_array_equal(longer, longest)


def test_empty_input_gives_empty_matrix(embedder: TextEmbedder) -> None:
    vectors = embedder.embed([])

    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_a_bare_string_is_rejected(embedder: TextEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("a cat on the sofa")


def test_concurrent_first_calls_agree() -> None:
    fresh = TextEmbedder()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: fresh.embed(["a cat on the sofa", "a kitten"]), range(4)))

    for result in results:
        np.testing.assert_allclose(result, results[0], atol=1e-6)
