"""The video stage: scenes contribute timed segments (with their on-screen text), faces and the scene view."""

from __future__ import annotations

import base64

from trove_analysis import stages
from trove_analysis.stages.picture import Face, Label, Ocr
from trove_analysis.stages.video import VIDEO, Scene, VideoResult
from trove_analysis.views import details, headline

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
