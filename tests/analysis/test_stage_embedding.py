"""The embedding stage with the local embedder: every segment embedded, then the file's index entries replaced."""

from __future__ import annotations

from analysis.stage_kit import Index, stage_run
from support import DEV_MEDIA

from trove_analysis.deps import Providers
from trove_analysis.stages.embedding import EMBEDDING, EmbeddingResult


async def test_segments_are_embedded_and_indexed_with_the_files_facts(providers: Providers) -> None:
    stored = {
        "probe": {"kind": "audio", "duration_s": 4.0, "has_audio": True},
        "transcription": {
            "language": "en",
            "duration_s": 4.0,
            "segments": [{"start_s": 0, "end_s": 2, "text": "hello"}],
        },
        "text": {"language": "", "entities": [], "key_phrases": []},
    }
    index = Index()
    run = stage_run(
        kind="audio", path=DEV_MEDIA / "weather_report.wav", providers=providers, results=stored, index=index
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
