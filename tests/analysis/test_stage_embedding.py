"""The embedding stage: every segment embedded (local, or by an OpenAI-compatible server, whose tokens are billed),
then the file's index entries replaced."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from analysis.stage_kit import Index, Tier, stage_run
from embed_server import serving
from pydantic import ValidationError
from support import DEV_MEDIA

from trove_analysis.deps import Providers
from trove_analysis.settings import Settings
from trove_analysis.stages.embedding import EMBEDDING, EmbeddingResult
from trove_common.offload import ModelExecutor
from trove_common.settings import EmbedderSettings
from trove_ml import TextEmbedder
from trove_ml.embed_server import create_app
from trove_ml.embedders import make_embedder
from trove_ml.openai_embedder import OPENAI_EMBEDDINGS

STORED_SPEECH = {
    "probe": {"kind": "audio", "duration_s": 4.0, "has_audio": True},
    "transcription": {"language": "en", "duration_s": 4.0, "segments": [{"start_s": 0, "end_s": 2, "text": "hello"}]},
    "text": {"language": "", "entities": [], "key_phrases": []},
}


async def test_segments_are_embedded_and_indexed_with_the_files_facts(providers: Providers) -> None:
    index = Index()
    run = stage_run(
        kind="audio", path=DEV_MEDIA / "weather_report.wav", providers=providers, results=STORED_SPEECH, index=index
    )
    assert await EMBEDDING.run(run) == EmbeddingResult(segments=1)
    (call,) = index.calls
    (segment,) = call["segments"]
    assert segment.kind == "speech" and segment.vector.shape == (call["dim"],)
    assert call["facts"].kind == "audio" and call["facts"].duration_s == 4.0 and call["facts"].language == "en"
    assert EMBEDDING.provider(providers) == f"local/{providers.embedding.model_name}" and not EMBEDDING.reuse


async def test_a_file_without_segments_still_gets_its_facts_indexed(providers: Providers) -> None:
    index = Index()
    run = stage_run(kind="image", path=DEV_MEDIA / "coffee.png", providers=providers, index=index)
    assert await EMBEDDING.run(run) is None
    (call,) = index.calls
    assert call["segments"] == [] and call["facts"].kind == "image"


async def test_the_files_faces_are_indexed_with_its_segments(providers: Providers) -> None:
    face = {"box": [10, 5, 30, 25], "score": 0.9, "embedding": [0.1] * 128, "crop": ""}
    picture = {"width": 100, "height": 50, "labels": [], "faces": [face]}
    index = Index()
    run = stage_run(
        kind="image", path=DEV_MEDIA / "coffee.png", providers=providers, results={"image": picture}, index=index
    )
    await EMBEDDING.run(run)
    (call,) = index.calls
    (indexed,) = call["faces"]
    assert indexed.box == (0.1, 0.1, 0.3, 0.5) and indexed.crop == b"" and call["facts"].has_faces


async def test_an_openai_compatible_embedder_reports_its_tokens_once_per_run(providers: Providers) -> None:
    """Trove's own embeddings server on loopback stands in for OpenAI; the tokens it counts go to the ledger."""
    model = TextEmbedder()
    executor = ModelExecutor(threads=1, name="stage-embed-server")
    try:
        async with serving(create_app(model, executor=executor)) as base_url:
            settings = EmbedderSettings(provider="openai", base_url=base_url, model=model.model_name, dimensions=256)
            remote = make_embedder(settings, executor=executor, setting="TROVE_ANALYSIS_EMBEDDER__")
            tier, index = Tier(), Index()
            run = stage_run(
                kind="audio",
                path=DEV_MEDIA / "weather_report.wav",
                providers=dataclasses.replace(providers, embedding=remote),
                results=STORED_SPEECH,
                tier=tier,
                index=index,
            )
            assert await EMBEDDING.run(run) == EmbeddingResult(segments=1)
            await remote.close()  # type: ignore[attr-defined]
    finally:
        executor.shutdown()
    assert EMBEDDING.provider(run.providers) == f"openai/{model.model_name}/256"
    (call,) = index.calls
    assert (call["model"], call["dim"]) == (model.model_name, 256) and call["segments"][0].vector.shape == (256,)
    assert tier.units == [(OPENAI_EMBEDDINGS, float(sum(model.count_tokens(["hello"]))))]
    assert tier.costs == [f"{run.job.media_id}:embedding:openai/{model.model_name}/256"]


def test_the_embedder_has_one_switch_shared_with_search(tmp_path: Path) -> None:
    base = {"storage": {"root": str(tmp_path), "signing_key": "k" * 32}, "service_auth": {"token": "t" * 32}}
    chosen = Settings.model_validate({**base, "embedder": {"provider": "openai"}})
    assert chosen.embedder.provider == "openai" and "embedding" not in chosen.providers
    with pytest.raises(ValidationError, match="TROVE_ANALYSIS_EMBEDDER__PROVIDER"):
        Settings.model_validate({**base, "providers": {"embedding": "openai"}})
