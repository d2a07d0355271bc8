"""probe(): kind, format and facts judged from file content; broken files refused with MediaError."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import numpy as np
import pytest
from av.stream import Disposition
from PIL import ExifTags, Image
from support import DEV_MEDIA

from trove_ml.errors import MediaError
from trove_ml.probe import probe

MAX_PIXELS = 50_000_000


def _tone(seconds: float, rate: int) -> av.AudioFrame:
    t = np.arange(int(seconds * rate)) / rate
    frame = av.AudioFrame.from_ndarray(
        (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :], format="fltp", layout="mono"
    )
    frame.sample_rate = rate
    return frame


def _write_audio(path: Path, *, codec: str, seconds: float, cover_art: bool = False) -> None:
    rate = 22050
    with av.open(str(path), "w") as out:
        audio = out.add_stream(codec, rate=rate, layout="mono")
        if cover_art:
            picture = out.add_stream("png")
            picture.width, picture.height, picture.pix_fmt = 32, 32, "rgb24"
            picture.disposition = Disposition.attached_pic
            still = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 200, np.uint8), format="rgb24")
            for packet in [*picture.encode(still), *picture.encode(None)]:
                out.mux(packet)
        for packet in [*audio.encode(_tone(seconds, rate)), *audio.encode(None)]:
            out.mux(packet)


def _remux_faststart(source: Path, target: Path) -> None:
    """Copy the streams with the index (moov) first, so a cut-off copy still opens and only its end is missing."""
    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def _cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.mark.parametrize(
    ("name", "kind", "mime", "codec"),
    [
        ("chelsea.png", "image", "image/png", "png"),
        ("china.jpg", "image", "image/jpeg", "jpeg"),
        ("holiday.mp4", "video", "video/mp4", "h264"),
        ("weather_report.wav", "audio", "audio/x-wav", "pcm_s16le"),
        ("pasta_recipe.mp3", "audio", "audio/mpeg", "mp3"),
    ],
)
def test_dev_files_get_the_kind_of_their_content(name: str, kind: str, mime: str, codec: str) -> None:
    result = probe(DEV_MEDIA / name, max_pixels=MAX_PIXELS)
    assert (result.kind, result.mime) == (kind, mime)
    assert codec in result.codecs
    assert result.has_video == (kind == "video")
    assert result.has_audio == (kind in ("video", "audio"))


def test_image_facts() -> None:
    result = probe(DEV_MEDIA / "chelsea.png", max_pixels=MAX_PIXELS)
    assert (result.width, result.height, result.duration_s) == (451, 300, None)


def test_video_facts() -> None:
    result = probe(DEV_MEDIA / "holiday.mp4", max_pixels=MAX_PIXELS)
    assert result.duration_s == pytest.approx(11.8, abs=0.15)
    assert (result.width, result.height) == (640, 480)
    assert result.codecs == ["h264", "aac"]


def test_audio_durations() -> None:
    assert probe(DEV_MEDIA / "weather_report.wav", max_pixels=MAX_PIXELS).duration_s == pytest.approx(7.46, abs=0.05)
    assert probe(DEV_MEDIA / "pasta_recipe.mp3", max_pixels=MAX_PIXELS).duration_s == pytest.approx(8.0, abs=0.1)


def test_audio_only_mp4_is_audio(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    _write_audio(path, codec="aac", seconds=2.0)
    result = probe(path, max_pixels=MAX_PIXELS)
    assert (result.kind, result.mime, result.has_video, result.has_audio) == ("audio", "audio/mp4", False, True)
    assert result.codecs == ["aac"]
    assert result.duration_s == pytest.approx(2.0, abs=0.1)


def test_cover_art_does_not_make_a_song_a_video(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    _write_audio(path, codec="libmp3lame", seconds=2.0, cover_art=True)
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1  # the picture is there, as a stream
    result = probe(path, max_pixels=MAX_PIXELS)
    assert (result.kind, result.has_video, result.codecs) == ("audio", False, ["mp3"])


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(MediaError, match="empty"):
        probe(path, max_pixels=MAX_PIXELS)


def test_unknown_content_despite_media_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("just some text, not a video\n" * 20)
    with pytest.raises(MediaError, match="not a recognised"):
        probe(path, max_pixels=MAX_PIXELS)


@pytest.mark.parametrize("name", ["chelsea.png", "china.jpg"])
def test_truncated_image(tmp_path: Path, name: str) -> None:
    path = _cut(DEV_MEDIA / name, tmp_path / name, 0.6)
    with pytest.raises(MediaError, match="truncated or corrupt"):
        probe(path, max_pixels=MAX_PIXELS)


def test_corrupt_png_data(tmp_path: Path) -> None:
    data = bytearray((DEV_MEDIA / "chelsea.png").read_bytes())
    start = data.index(b"IDAT") + 200
    data[start : start + 2000] = bytes(2000)
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="truncated or corrupt"):
        probe(path, max_pixels=MAX_PIXELS)


def test_truncated_mp4_without_index(tmp_path: Path) -> None:
    path = _cut(DEV_MEDIA / "holiday.mp4", tmp_path / "cut.mp4", 0.3)
    with pytest.raises(MediaError, match="cannot be read"):
        probe(path, max_pixels=MAX_PIXELS)


def test_truncated_mp4_with_index_first(tmp_path: Path) -> None:
    whole = tmp_path / "faststart.mp4"
    _remux_faststart(DEV_MEDIA / "holiday.mp4", whole)
    assert probe(whole, max_pixels=MAX_PIXELS).kind == "video"
    with pytest.raises(MediaError, match="truncated"):
        probe(_cut(whole, tmp_path / "cut.mp4", 0.6), max_pixels=MAX_PIXELS)


def test_truncated_mp3(tmp_path: Path) -> None:
    path = _cut(DEV_MEDIA / "pasta_recipe.mp3", tmp_path / "cut.mp3", 0.3)
    with pytest.raises(MediaError, match="truncated"):
        probe(path, max_pixels=MAX_PIXELS)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_decompression_bomb_header(tmp_path: Path) -> None:
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b""))
    with pytest.raises(MediaError, match="100000x100000 pixels"):
        probe(path, max_pixels=MAX_PIXELS)


def test_pixel_limit_is_ours_and_pillow_does_not_warn(tmp_path: Path) -> None:
    # 100 MP is past Pillow's own warning threshold (~89 MP); with filterwarnings=error a warning would fail here.
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, 10_000)).save(path)
    assert probe(path, max_pixels=150_000_000).width == 10_000
    with pytest.raises(MediaError, match="limit"):
        probe(path, max_pixels=MAX_PIXELS)


def test_exif_capture_facts(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FUJIFILM"
    exif[ExifTags.Base.Model] = "X-T30"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.DateTime] = "2024:01:01 00:00:00"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2023:07:14 18:30:05"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.6)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), "orange").save(path, exif=exif)

    result = probe(path, max_pixels=MAX_PIXELS)
    assert result.taken_at == datetime(2023, 7, 14, 18, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert result.gps is not None
    assert result.gps == pytest.approx((48.858222, -2.294500), abs=1e-5)
    assert result.camera == "FUJIFILM X-T30"
    assert (result.width, result.height) == (30, 40)  # shown upright: orientation 6 is a quarter turn


def test_exif_fallbacks(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "Canon EOS R6"
    exif[ExifTags.Base.DateTime] = "2021:12:24 09:15:00"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "0000:00:00 00:00:00"
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), "teal").save(path, exif=exif)

    result = probe(path, max_pixels=MAX_PIXELS)
    assert result.taken_at == datetime(2021, 12, 24, 9, 15)
    assert (result.camera, result.gps, result.width) == ("Canon EOS R6", None, 40)


def test_image_without_exif_has_no_capture_facts() -> None:
    result = probe(DEV_MEDIA / "china.jpg", max_pixels=MAX_PIXELS)
    assert (result.taken_at, result.gps, result.camera) == (None, None, None)


def test_pdf_document(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    Image.new("RGB", (200, 100), "white").save(path)
    result = probe(path, max_pixels=MAX_PIXELS)
    assert (result.kind, result.mime, result.duration_s) == ("document", "application/pdf", None)
    with pytest.raises(MediaError, match="PDF is truncated"):
        probe(_cut(path, tmp_path / "cut.pdf", 0.5), max_pixels=MAX_PIXELS)


def test_heic_photo_is_an_image(tmp_path: Path) -> None:
    path = tmp_path / "cat.heic"
    with Image.open(DEV_MEDIA / "chelsea.png") as original:
        original.convert("RGB").save(path, format="HEIF")
        size = original.size
    found = probe(path, max_pixels=MAX_PIXELS)
    assert found.kind == "image"
    assert (found.width, found.height) == size
