"""scenes(), poster() and has_video_stream() on the dev video and on videos the tests encode with PyAV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from support import DEV_MEDIA

from trove_ml.errors import MediaError
from trove_ml.probe import probe
from trove_ml.video import LONG_SHOT_S, Scene, has_video_stream, poster, scenes

HOLIDAY_CUTS_S = (3.82, 7.64)

Picture = npt.NDArray[np.uint8]


def _write_video(
    path: Path, *, seconds: float, fps: int, draw: Callable[[float], Picture], gop: int = 250, rotation: int = 0
) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(gop)})
        height, width = draw(0.0).shape[:2]
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(draw(i / fps), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _gradient(t: float, *, width: int = 160, height: int = 96) -> Picture:
    """A diagonal colour gradient drifting slowly to the right: one continuous shot with gentle motion."""
    x = (np.arange(width)[None, :] + np.arange(height)[:, None] - 8 * t) % 256
    return np.stack([x, 255 - x, np.full_like(x, 128)], axis=-1).astype(np.uint8)


def _assert_tiles(result: list[Scene], duration_s: float) -> None:
    """Scenes are numbered in order and cover [0, duration] without gaps or overlaps."""
    assert [s.index for s in result] == list(range(len(result)))
    assert result[0].start_s == 0.0
    assert result[-1].end_s == pytest.approx(duration_s, abs=1e-6)
    for before, after in zip(result, result[1:], strict=False):
        assert before.end_s == after.start_s
        assert after.start_s > before.start_s
    for scene in result:
        assert scene.keyframe.mode == "RGB"


def _cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def test_holiday_slideshow_has_three_scenes_at_the_slide_changes() -> None:
    path = DEV_MEDIA / "holiday.mp4"
    result = scenes(path)
    duration_s = probe(path, max_pixels=10_000_000).duration_s
    assert duration_s is not None
    assert len(result) == 3
    _assert_tiles(result, duration_s)
    for boundary, expected in zip((s.start_s for s in result[1:]), HOLIDAY_CUTS_S, strict=True):
        assert boundary == pytest.approx(expected, abs=0.5)
    # Each slide is a different photo, so the keyframes are clearly different pictures.
    pixels = [np.asarray(s.keyframe, dtype=np.int16) for s in result]
    assert all(p.shape == (480, 640, 3) for p in pixels)
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(pixels[i] - pixels[j]).mean() > 20


def test_min_scene_and_max_scenes_limit_the_cuts() -> None:
    path = DEV_MEDIA / "holiday.mp4"
    # The first slide change comes 3.8 s in, too soon for 4 s scenes; the second one still counts.
    longer = scenes(path, min_scene_s=4.0)
    assert [round(s.start_s) for s in longer] == [0, 8]
    # A last scene shorter than the minimum joins the one before it.
    assert len(scenes(path, min_scene_s=5.0)) == 1
    fewer = scenes(path, max_scenes=2)
    assert len(fewer) == 2
    assert fewer[-1].end_s == pytest.approx(11.9, abs=0.1)


def test_one_long_shot_becomes_timed_scenes(tmp_path: Path) -> None:
    path = tmp_path / "shot.mp4"
    _write_video(path, seconds=25, fps=10, draw=_gradient)
    result = scenes(path)
    assert len(result) == 3
    _assert_tiles(result, 25.0)
    assert all(s.end_s - s.start_s <= LONG_SHOT_S + 0.3 for s in result)
    assert [round(s.start_s) for s in result] == [0, 10, 20]


def test_long_video_is_cut_from_keyframes(tmp_path: Path) -> None:
    # Past 30 s with a keyframe every 2 s, only keyframes are decoded, so the change of shot at 35 s is placed
    # between the keyframes around it; timed splits alone would fall at 30 s and 40 s.
    def draw(t: float) -> Picture:
        picture = _gradient(t, width=64, height=48)
        if t >= 35.0:
            picture[..., :2] //= 4
            picture[..., 2] = 220
        return picture

    path = tmp_path / "long.mp4"
    _write_video(path, seconds=60, fps=5, draw=draw, gop=10)
    result = scenes(path)
    _assert_tiles(result, 60.0)
    assert any(abs(s.start_s - 35.0) <= 1.0 for s in result)
    assert all(s.end_s - s.start_s <= LONG_SHOT_S + 2.0 for s in result)


def test_poster_skips_a_black_opening(tmp_path: Path) -> None:
    def draw(t: float) -> Picture:
        return np.zeros((96, 160, 3), np.uint8) if t < 2.0 else _gradient(t)

    path = tmp_path / "fade_in.mp4"
    _write_video(path, seconds=4, fps=10, draw=draw)
    image = poster(path)
    assert image.size == (160, 96)
    assert np.asarray(image.convert("L")).mean() > 60


def test_poster_of_holiday_is_the_first_slide() -> None:
    image = poster(DEV_MEDIA / "holiday.mp4")
    first = scenes(DEV_MEDIA / "holiday.mp4")[0].keyframe
    assert np.abs(np.asarray(image, dtype=np.int16) - np.asarray(first, dtype=np.int16)).mean() < 10


def test_portrait_phone_video_keyframes_are_upright(tmp_path: Path) -> None:
    def draw(t: float) -> Picture:
        picture = np.zeros((48, 64, 3), np.uint8)
        picture[:, :16] = 255  # a white band on the stored left edge
        return picture

    path = tmp_path / "portrait.mp4"
    _write_video(path, seconds=2, fps=10, draw=draw, rotation=90)
    keyframe = scenes(path)[0].keyframe
    assert keyframe.size == (48, 64)
    assert (probe(path, max_pixels=10_000_000).width, probe(path, max_pixels=10_000_000).height) == (48, 64)
    luma = np.asarray(keyframe.convert("L"))
    assert luma[-8:].mean() > 200 and luma[:8].mean() < 50  # shown as a phone shows it: band at the bottom


def test_has_video_stream(tmp_path: Path) -> None:
    assert has_video_stream(DEV_MEDIA / "holiday.mp4")
    assert not has_video_stream(DEV_MEDIA / "pasta_recipe.mp3")
    assert not has_video_stream(DEV_MEDIA / "weather_report.wav")


def test_audio_file_has_no_scenes() -> None:
    with pytest.raises(MediaError, match="no video stream"):
        scenes(DEV_MEDIA / "pasta_recipe.mp3")


def test_truncated_mp4(tmp_path: Path) -> None:
    path = _cut(DEV_MEDIA / "holiday.mp4", tmp_path / "cut.mp4", 0.3)
    with pytest.raises(MediaError):
        scenes(path)
    with pytest.raises(MediaError):
        poster(path)
    with pytest.raises(MediaError):
        has_video_stream(path)


def test_video_cut_off_after_its_index(tmp_path: Path) -> None:
    whole = tmp_path / "faststart.mp4"
    with (
        av.open(str(DEV_MEDIA / "holiday.mp4")) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as out,
    ):
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    assert len(scenes(whole)) == 3
    with pytest.raises(MediaError, match="truncated"):
        scenes(_cut(whole, tmp_path / "cut.mp4", 0.6))


def test_decoding_stops_at_the_duration_limit_and_big_frames_are_refused_undecoded() -> None:
    holiday = DEV_MEDIA / "holiday.mp4"
    assert scenes(holiday, max_duration_s=600, max_pixels=8_294_400)  # within both limits

    with pytest.raises(MediaError, match="runs past 0.0 minutes"):
        scenes(holiday, max_duration_s=1.0)
    with pytest.raises(MediaError, match="pixels; at most"):
        scenes(holiday, max_pixels=100_000)
