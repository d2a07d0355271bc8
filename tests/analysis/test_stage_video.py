"""The video stage: scenes contribute timed segments (with their on-screen text), faces and the scene view."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

from analysis.stage_kit import Index, Tier, stage_run
from PIL import Image
from support import DEV_MEDIA

from trove_analysis import stages
from trove_analysis.deps import Providers
from trove_analysis.stages.embedding import EMBEDDING
from trove_analysis.stages.picture import Face, Label, Ocr
from trove_analysis.stages.video import VIDEO, Scene, VideoResult
from trove_analysis.views import details, headline
from trove_common.blobstore import LocalBlobStore, frame_key, thumbnail_key

STORED = {
    "scenes": [
        {
            "index": 0,
            "start_s": 0.0,
            "end_s": 2.5,
            "width": 320,
            "height": 240,
            "labels": [{"name": "seashore", "score": 0.8}],
        },
        {"index": 1, "start_s": 2.5, "end_s": 4.0, "labels": [], "ocr": {"text": "welcome to the beach", "lines": []}},
    ]
}


def test_a_stored_video_result_reads_back_typed() -> None:
    result = VIDEO.decode(STORED)
    assert result.scenes[0] == Scene(
        index=0, start_s=0.0, end_s=2.5, width=320, height=240, labels=(Label("seashore", 0.8),)
    )
    assert result.scenes[1].ocr == Ocr(text="welcome to the beach")


def test_scenes_become_timed_segments() -> None:
    first, second = VIDEO.segments(VIDEO.decode(STORED))
    assert (first.kind, first.start_s, first.end_s, first.text) == ("scene", 0.0, 2.5, "a photo of seashore")
    assert second.text == "a picture; text on screen: welcome to the beach"


def test_a_face_in_any_scene_counts_and_scenes_show_as_pictures() -> None:
    result = VideoResult(
        scenes=(Scene(index=0, start_s=0, end_s=1), Scene(index=1, start_s=1, end_s=2, faces=(Face(box=(0, 0, 1, 1)),)))
    )
    assert VIDEO.facts(result) == {"has_faces": True}
    assert VIDEO.facts(VideoResult()) == {"has_faces": False}
    scenes = VIDEO.view(result)["scenes"]
    assert [s["index"] for s in scenes] == [0, 1] and scenes[1]["faces"]["count"] == 1
    assert scenes[0]["description"] == "a picture"


def test_the_first_scene_stands_for_the_video() -> None:
    found = stages.done([("video", STORED)])
    assert headline(found) == VIDEO.decode(STORED).scenes[0]
    assert details(found)["scenes"][0]["labels"] == [{"name": "seashore", "score": 0.8, "broader": []}]
    assert headline(stages.done([])) is None


def test_scenes_carry_a_readable_caption_and_their_frame() -> None:
    stored = {"scenes": [{**STORED["scenes"][0], "frame": 1}, STORED["scenes"][1]]}
    first, second = VIDEO.segments(VIDEO.decode(stored))
    assert (first.caption, first.frame) == ("A seashore", 1)
    assert (second.caption, second.frame) == ("A picture; text: “welcome to the beach”", 0)
    assert VIDEO.view(VIDEO.decode(stored))["scenes"][0]["frame"] == 1


async def test_each_scene_keyframe_is_stored_billed_and_deleted_with_the_video(
    providers: Providers, blob_root: Path
) -> None:
    key = "user/holiday"
    tier = Tier()
    run = stage_run(kind="video", path=DEV_MEDIA / "holiday.mp4", providers=providers, tier=tier, key=key)
    result = await VIDEO.run(run)
    assert isinstance(result, VideoResult) and result.scenes
    assert [s.frame for s in result.scenes] == list(range(1, len(result.scenes) + 1))
    for scene in result.scenes:
        with Image.open(io.BytesIO((blob_root / frame_key(key, scene.frame)).read_bytes())) as frame:
            assert frame.format == "JPEG" and max(frame.size) <= 320
    frames = sum((blob_root / frame_key(key, s.frame)).stat().st_size for s in result.scenes)
    assert tier.derived[-1] >= frames + (blob_root / thumbnail_key(key)).stat().st_size
    # The bytes never go into the stored result, which reads back as it was.
    encoded = VIDEO.encode(result)
    assert "frame_jpeg" not in str(encoded) and VIDEO.decode(encoded) == result
    # Derived files are `<key>.<suffix>`: deleting the video deletes its frames.
    store = LocalBlobStore(root=blob_root, signing_key="k" * 32)
    (blob_root / key).write_bytes(b"video")
    await asyncio.to_thread(store.delete, key)
    assert not await asyncio.to_thread(lambda: list(blob_root.glob("user/holiday*")))


async def test_a_sentence_said_in_a_scene_shows_that_scenes_frame(providers: Providers) -> None:
    scenes = [
        {"index": 0, "start_s": 0.0, "end_s": 2.0, "labels": [{"name": "seashore", "score": 0.8}], "frame": 1},
        {"index": 1, "start_s": 2.0, "end_s": 6.0, "labels": [{"name": "studio couch", "score": 0.7}], "frame": 2},
    ]
    said = {"language": "en", "duration_s": 6.0, "segments": [{"start_s": 2.5, "end_s": 4.0, "text": "the sofa"}]}
    index = Index()
    run = stage_run(
        kind="video",
        path=DEV_MEDIA / "holiday.mp4",
        providers=providers,
        results={
            "probe": {"kind": "video", "duration_s": 6.0, "has_audio": True},
            "video": {"scenes": scenes},
            "transcription": said,
        },
        index=index,
    )
    await EMBEDDING.run(run)
    frames = {(s.kind, s.text): s.frame for s in index.calls[0]["segments"]}
    assert frames[("speech", "the sofa")] == 2
    assert [f for (kind, _), f in frames.items() if kind == "scene"] == [1, 2]


def test_a_scenes_faces_go_to_people_with_the_scenes_span() -> None:
    face = Face(box=(10, 5, 30, 25), score=0.9, embedding=(0.1,) * 128, crop=base64.b64encode(b"a jpeg").decode())
    result = VideoResult(
        scenes=(
            Scene(index=0, start_s=0.0, end_s=2.0, width=100, height=50),
            Scene(index=1, start_s=2.0, end_s=5.5, width=100, height=50, faces=(face, Face(box=(1, 2, 3, 4)))),
        )
    )
    (found,) = VIDEO.faces(result)  # the face without a descriptor is left out
    assert found.box == (0.1, 0.1, 0.3, 0.5) and (found.start_s, found.end_s) == (2.0, 5.5)
    assert found.crop == b"a jpeg" and found.embedding == (0.1,) * 128
