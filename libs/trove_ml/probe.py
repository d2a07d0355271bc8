"""Identifies a media file from its content: kind, format, duration, size, codecs and EXIF capture facts."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Literal

import av
import filetype
from av.container import InputContainer
from av.stream import Disposition, Stream
from av.video.stream import VideoStream
from PIL import ExifTags, Image, ImageFile

from trove_ml.errors import MediaError

Kind = Literal["image", "video", "audio", "document"]

# Cover art, thumbnails and still pictures that containers expose as "video" streams.
_NOT_MOTION = Disposition.attached_pic | Disposition.timed_thumbnails | Disposition.still_image
# How many packets to read looking for a first decodable frame before calling the stream undecodable.
_FIRST_FRAME_PACKETS = 500
# A PDF reader looks for its end-of-file marker in the last KiB, so a file without one there was cut short.
_PDF_TAIL_BYTES = 1024
_EXIF_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
# EXIF orientations 5-8 store the picture on its side; the displayed width and height are swapped.
_SIDEWAYS = {5, 6, 7, 8}
# Types that filetype names differently from the Pillow plugin that reads them.
_PILLOW_MIME = {"image/apng": "image/png", "image/jpx": "image/jp2", "image/heic": "image/heif"}


@dataclass(frozen=True, slots=True)
class Probe:
    """What a file is, judged from its bytes. `width`/`height` are as displayed (EXIF or stream rotation applied)."""

    kind: Kind
    mime: str
    duration_s: float | None
    width: int | None
    height: int | None
    codecs: list[str]
    has_audio: bool
    has_video: bool
    taken_at: datetime | None = None
    gps: tuple[float, float] | None = None
    camera: str | None = None


def probe(path: Path, *, max_pixels: int) -> Probe:
    """Identify `path` by content and check that it decodes; raise MediaError for empty, unknown or broken files.

    Args:
        path: the file to inspect.
        max_pixels: images with more pixels than this are refused as decompression bombs.
    """
    if path.stat().st_size == 0:
        raise MediaError("The file is empty.")
    guess = filetype.guess(str(path))
    if guess is None:
        raise MediaError("The file is not a recognised image, video, audio or PDF format.")
    mime: str = guess.mime
    family = mime.partition("/")[0]
    if family == "image":
        return _probe_image(path, mime=mime, max_pixels=max_pixels)
    if family in ("video", "audio"):
        return _probe_av(path, mime=mime)
    if mime == "application/pdf":
        return _probe_pdf(path)
    raise MediaError(f"Files of type {mime} are not supported.")


def motion_video_streams(container: InputContainer) -> list[VideoStream]:
    """The container's video streams that carry moving pictures, not cover art or thumbnails."""
    return [s for s in container.streams.video if not s.disposition & _NOT_MOTION and s.frames != 1]


def declared_duration_s(container: InputContainer, stream: Stream | None = None) -> float | None:
    """The duration `stream` (else the container) states, in seconds, or None when none is stated."""
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    ends = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(ends) if ends else None


def check_complete(*, reached_s: float | None, duration_s: float, what: str) -> None:
    """Raise MediaError when decoding stopped well short of the declared duration, as in a cut-off upload."""
    if reached_s is None or reached_s < duration_s - _slack_s(duration_s):
        stop = "before its first frame" if reached_s is None else f"at {reached_s:.1f} s"
        raise MediaError(f"The {what} is truncated: it stops {stop} of {duration_s:.1f} s.")


def _slack_s(duration_s: float) -> float:
    # Streams of one file end a few frames apart, and the last frame starts before the end it is shown until.
    return max(1.0, 0.05 * duration_s)


def _probe_av(path: Path, *, mime: str) -> Probe:
    try:
        with av.open(str(path)) as container:
            return _inspect_container(container, mime=mime)
    except av.FFmpegError as e:
        raise MediaError(f"The file cannot be read as audio or video ({e.strerror or e}).") from e


def _inspect_container(container: InputContainer, *, mime: str) -> Probe:
    video = motion_video_streams(container)
    audio = list(container.streams.audio)
    if not video and not audio:
        raise MediaError("The file has no audio or video stream.")
    main: Stream = video[0] if video else audio[0]
    width = height = None
    first = _first_frame(container, main)
    if isinstance(first, av.VideoFrame):
        sideways = first.rotation % 180 == 90
        width, height = (first.height, first.width) if sideways else (first.width, first.height)
    duration_s = declared_duration_s(container)
    if duration_s is None:
        duration_s = _last_packet_end_s(container, main)
    else:
        # Against the main stream's own length: in some recordings one stream legitimately stops early.
        _check_tail(container, main, declared_duration_s(container, main) or duration_s)
    kind: Kind = "video" if video else "audio"
    codecs = list(dict.fromkeys(s.codec_context.codec.canonical_name for s in [*video, *audio]))
    return Probe(
        kind=kind,
        mime=f"{kind}/{mime.partition('/')[2]}",
        duration_s=duration_s,
        width=width,
        height=height,
        codecs=codecs,
        has_audio=bool(audio),
        has_video=bool(video),
    )


def _first_frame(container: InputContainer, stream: Stream) -> av.VideoFrame | av.AudioFrame:
    for count, packet in enumerate(container.demux(stream)):
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame | av.AudioFrame):
                return frame
        if count >= _FIRST_FRAME_PACKETS:
            break
    raise MediaError(f"The file's {stream.type} stream has no decodable frames.")


def _check_tail(container: InputContainer, stream: Stream, duration_s: float) -> None:
    """Decode from shortly before the declared end: a truncated file has no frames there."""
    start_s = (container.start_time or 0) / av.time_base
    target_s = start_s + duration_s - _slack_s(duration_s)
    container.seek(int(max(0.0, target_s - 1.0) * av.time_base), backward=True)
    reached_s: float | None = None
    for packet in container.demux(stream):
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame | av.AudioFrame) and frame.time is not None:
                reached_s = frame.time - start_s
                if frame.time >= target_s:
                    return
    check_complete(reached_s=reached_s, duration_s=duration_s, what="file")


def _last_packet_end_s(container: InputContainer, stream: Stream) -> float | None:
    """The end of the last packet, for containers (e.g. browser-recorded WebM) that state no duration."""
    start_s = (container.start_time or 0) / av.time_base
    end_s: float | None = None
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end_s = float((packet.pts + (packet.duration or 0)) * packet.time_base) - start_s
    return end_s


def _probe_image(path: Path, *, mime: str, max_pixels: int) -> Probe:
    with path.open("rb") as fp:
        image = _identify(fp, mime=mime)
        width, height = image.size
        if width * height > max_pixels:
            raise MediaError(f"The image is {width}x{height} pixels, more than the limit of {max_pixels} pixels.")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
            raise MediaError(f"The image is truncated or corrupt ({e}).") from e
        exif = image.getexif()
        codec = (image.format or mime.partition("/")[2]).lower()
    if exif.get(ExifTags.Base.Orientation) in _SIDEWAYS:
        width, height = height, width
    return Probe(
        kind="image",
        mime=mime,
        duration_s=None,
        width=width,
        height=height,
        codecs=[codec],
        has_audio=False,
        has_video=False,
        taken_at=_taken_at(exif),
        gps=_gps(exif),
        camera=_camera(exif),
    )


def _identify(fp: IO[bytes], *, mime: str) -> ImageFile.ImageFile:
    """Read only the image header, through the Pillow plugin registered for `mime`.

    `Image.open` warns (rather than raises) for images between MAX_IMAGE_PIXELS and twice that, and silencing a
    warning means changing the process-wide, thread-unsafe warning filters. Opening through the plugin directly
    skips that check; `_probe_image` applies its own pixel limit before decoding instead.
    """
    Image.init()
    wanted = _PILLOW_MIME.get(mime, mime)
    for name, registered in Image.MIME.items():
        if registered != wanted or name not in Image.OPEN:
            continue
        factory, _accept = Image.OPEN[name]
        fp.seek(0)
        try:
            return factory(fp, "")
        except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error) as e:
            raise MediaError(f"The image header is corrupt ({e}).") from e
    raise MediaError(f"Images of type {mime} are not supported.")


def _probe_pdf(path: Path) -> Probe:
    with path.open("rb") as fp:
        fp.seek(max(0, path.stat().st_size - _PDF_TAIL_BYTES))
        if b"%%EOF" not in fp.read():
            raise MediaError("The PDF is truncated: it has no end-of-file marker.")
    return Probe(
        kind="document",
        mime="application/pdf",
        duration_s=None,
        width=None,
        height=None,
        codecs=[],
        has_audio=False,
        has_video=False,
    )


def _exif_text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value.strip("\x00 ") if isinstance(value, str) else ""
    return text or None


def _taken_at(exif: Image.Exif) -> datetime | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    pairs = (
        (sub.get(ExifTags.Base.DateTimeOriginal), sub.get(ExifTags.Base.OffsetTimeOriginal)),
        (exif.get(ExifTags.Base.DateTime), sub.get(ExifTags.Base.OffsetTime)),
    )
    for stamp, offset in pairs:
        stamp_text = _exif_text(stamp)
        if stamp_text is None:
            continue
        try:
            taken = datetime.strptime(stamp_text, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue  # cameras without a clock write "0000:00:00 00:00:00" or blanks
        match = _EXIF_OFFSET.match(_exif_text(offset) or "")
        if match:
            sign = -1 if match[1] == "-" else 1
            taken = taken.replace(tzinfo=timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3]))))
        return taken
    return None


def _gps(exif: Image.Exif) -> tuple[float, float] | None:
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(info.get(ExifTags.GPS.GPSLatitude), _exif_text(info.get(ExifTags.GPS.GPSLatitudeRef)), "S")
    lon = _degrees(info.get(ExifTags.GPS.GPSLongitude), _exif_text(info.get(ExifTags.GPS.GPSLongitudeRef)), "W")
    # Receivers without a fix often write 0/0; a photo taken exactly there is far less likely than a bogus value.
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or (lat, lon) == (0.0, 0.0):
        return None
    return lat, lon


def _degrees(dms: object, ref: str | None, negative_ref: str) -> float | None:
    if not isinstance(dms, tuple) or len(dms) != 3:
        return None
    try:
        degrees, minutes, seconds = (float(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if math.isnan(value):  # a rational with a zero denominator reads as NaN
        return None
    return -value if (ref or "").upper() == negative_ref else value


def _camera(exif: Image.Exif) -> str | None:
    make = _exif_text(exif.get(ExifTags.Base.Make))
    model = _exif_text(exif.get(ExifTags.Base.Model))
    if make and model and model.lower().startswith(make.lower()):
        return model  # many makers repeat the brand in the model ("Canon" / "Canon EOS R6")
    return " ".join(part for part in (make, model) if part) or None
