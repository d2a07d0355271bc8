"""Cuts a video into scenes, each with a representative keyframe, from one linear decode at a reduced rate."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from trove_ml.errors import MediaError
from trove_ml.probe import check_complete, declared_duration_s, motion_video_streams

# Cuts are looked for between frames this far apart: a cut is placed within 1/8 s, and the histogram work stays
# small. Decoding still touches every frame of a short video, because inter-coded frames need their references.
SAMPLE_FPS = 4.0
# A shot longer than this is split into timed scenes, so a long take still yields several searchable moments.
LONG_SHOT_S = 10.0
# Keyframes feed image analysis (labels, OCR, faces); this keeps text legible while bounding the memory held.
KEYFRAME_MAX_SIDE = 768
# Longer videos are read keyframe by keyframe when the index shows keyframes at least every KEYFRAME_GAP_S on
# average: decoding is most of the cost, a keyframe is typically one frame in 30-250, and encoders put keyframes
# at shot changes, so cuts are still found (to within a keyframe interval).
FULL_DECODE_MAX_S = 30.0
KEYFRAME_GAP_S = 5.0
# The poster is picked from the opening seconds; later frames are not worth the decoding.
POSTER_WINDOW_S = 10.0

# Cut detection compares hue/saturation/value histograms of consecutive samples (0 = same, 1 = disjoint).
# Histograms ignore where things are, so camera and subject motion between samples 1/4 s apart barely moves the
# score, while a change of shot replaces the colour distribution. A cut must beat a fixed floor AND be several
# times the recent within-shot level, so busy footage (pans, flashing lights) does not cut at every sample.
_SIGNATURE_SIZE = (64, 36)
_CUT_FLOOR = 0.25
_CUT_RATIO = 3.0
_RECENT_SCORES = 8
# Candidate keyframes kept per open scene; their spacing doubles whenever the list overflows.
_CANDIDATES = 8
_CANDIDATE_SPACING_S = 0.5


@dataclass(frozen=True, slots=True)
class Scene:
    """One stretch of a video, with times relative to the start of the file and an RGB frame from its middle."""

    index: int
    start_s: float
    end_s: float
    keyframe: Image.Image


def scenes(
    path: Path,
    *,
    min_scene_s: float = 1.0,
    max_scenes: int = 200,
    max_duration_s: float | None = None,
    max_pixels: int | None = None,
) -> list[Scene]:
    """Split the video at `path` into at most `max_scenes` scenes covering its whole duration; MediaError if broken.

    `max_duration_s` stops the decode once frames pass it, whatever the header says; `max_pixels` refuses frames
    larger than that (a decompression bomb) before any is decoded.
    """
    if max_scenes < 1:
        raise ValueError("max_scenes must be at least 1")
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container)
            check_frame_size(stream, max_pixels=max_pixels)
            duration_s = declared_duration_s(container)
            video_s = declared_duration_s(container, stream)
            # Long takes in long videos get proportionally longer timed scenes, so they do not crowd out the cuts.
            long_shot_s = max(LONG_SHOT_S, (duration_s or 0.0) / max_scenes)
            builder = _SceneBuilder(min_scene_s=min_scene_s, long_shot_s=long_shot_s, max_scenes=max_scenes)
            sampler = _Sampler(container, stream, step_s=1 / SAMPLE_FPS)
            for time_s, frame in sampler:
                if max_duration_s is not None and time_s > max_duration_s + 1.0:
                    raise MediaError(
                        f"The video runs past {max_duration_s / 60:.1f} minutes, the longest your tier allows "
                        "(whatever its header says)."
                    )
                builder.add(time_s, frame)
    except av.FFmpegError as e:
        raise MediaError(f"The video cannot be decoded ({e.strerror or e}).") from e
    if not builder.started:
        raise MediaError("The video has no decodable frames.")
    if duration_s is None:
        duration_s = sampler.reached_s or 0.0
    check_complete(reached_s=sampler.reached_s, duration_s=video_s or duration_s, what="video")
    return builder.finish(end_s=duration_s)


def poster(path: Path) -> Image.Image:
    """A frame for the thumbnail: the first well-exposed one in the opening seconds, else the most contrasted one."""
    best: tuple[float, Image.Image] | None = None
    try:
        with av.open(str(path)) as container:
            for time_s, frame in _Sampler(container, _video_stream(container), step_s=0.5):
                image = _keyframe_image(frame)
                if _informative(image):
                    return image
                contrast = _contrast(image)
                if best is None or contrast > best[0]:
                    best = (contrast, image)
                if time_s >= POSTER_WINDOW_S:
                    break
    except av.FFmpegError as e:
        raise MediaError(f"The video cannot be decoded ({e.strerror or e}).") from e
    if best is None:
        raise MediaError("The video has no decodable frames.")
    return best[1]


def has_video_stream(path: Path) -> bool:
    """Whether the file holds moving pictures (cover art and thumbnails do not count)."""
    try:
        with av.open(str(path)) as container:
            return bool(motion_video_streams(container))
    except av.FFmpegError as e:
        raise MediaError(f"The file cannot be read as video ({e.strerror or e}).") from e


def _video_stream(container: InputContainer) -> VideoStream:
    streams = motion_video_streams(container)
    if not streams:
        raise MediaError("The file has no video stream.")
    streams[0].thread_type = "AUTO"
    return streams[0]


def check_frame_size(stream: VideoStream, *, max_pixels: int | None) -> None:
    """MediaError when the stream's frames are larger than `max_pixels` (checked from its parameters, undecoded)."""
    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if max_pixels is not None and width * height > max_pixels:
        raise MediaError(
            f"The video's frames are {width}x{height} pixels; at most {max_pixels / 1e6:.0f} megapixels are allowed."
        )


class _Sampler:
    """One pass over a video stream, yielding frames at most every `step_s`; remembers how far the data reached."""

    def __init__(self, container: InputContainer, stream: VideoStream, *, step_s: float) -> None:
        self._container = container
        self._stream = stream
        self._step_s = step_s
        self._origin_s = (container.start_time or 0) / av.time_base
        self.reached_s: float | None = None

    def __iter__(self) -> Iterator[tuple[float, av.VideoFrame]]:
        keyframes_only = _keyframes_only(self._stream, declared_duration_s(self._container))
        next_s = 0.0
        for packet in self._container.demux(self._stream):
            if packet.pts is not None and packet.time_base is not None:
                packet_s = float(packet.pts * packet.time_base) - self._origin_s
                self.reached_s = max(self.reached_s or 0.0, packet_s)
                # Keyframes decode without the packets before them, so in this mode the rest are never decoded.
                if keyframes_only and (not packet.is_keyframe or packet_s < next_s):
                    continue
            for frame in packet.decode():
                if frame.time is None or frame.time - self._origin_s < next_s:
                    continue
                time_s = max(0.0, frame.time - self._origin_s)
                # Stay on the sampling grid, but restart it after a gap (sparse keyframes, dropped frames).
                next_s = next_s + self._step_s if time_s < next_s + self._step_s else time_s + self._step_s
                yield time_s, frame


def _keyframes_only(stream: VideoStream, duration_s: float | None) -> bool:
    if duration_s is None or duration_s <= FULL_DECODE_MAX_S:
        return False
    keyframes = sum(1 for entry in stream.index_entries if entry.is_keyframe)
    return keyframes > 0 and duration_s / keyframes <= KEYFRAME_GAP_S


@dataclass(frozen=True, slots=True)
class _Span:
    start_s: float
    end_s: float
    keyframe: Image.Image

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


class _SceneBuilder:
    """Turns sampled frames into scenes online, holding only a few candidate keyframes for the open scene."""

    def __init__(self, *, min_scene_s: float, long_shot_s: float, max_scenes: int) -> None:
        self._min_scene_s = min_scene_s
        self._long_shot_s = long_shot_s
        self._max_scenes = max_scenes
        self._closed: list[_Span] = []
        self._start_s = 0.0
        self._timed = False  # the open scene began at a timed split, not at a cut
        self._candidates: list[tuple[float, Image.Image]] = []
        self._spacing_s = _CANDIDATE_SPACING_S
        self._recent: deque[float] = deque(maxlen=_RECENT_SCORES)
        self._previous: tuple[float, npt.NDArray[np.float32]] | None = None

    @property
    def started(self) -> bool:
        return self._previous is not None

    def add(self, time_s: float, frame: av.VideoFrame) -> None:
        signature = _signature(frame)
        if self._previous is not None:
            previous_s, previous = self._previous
            score = 0.5 * float(np.abs(signature - previous).sum())
            level = sum(self._recent) / len(self._recent) if self._recent else 0.0
            if score >= _CUT_FLOOR and score >= _CUT_RATIO * level:
                self._cut((previous_s + time_s) / 2)
            else:
                self._recent.append(score)
        if time_s - self._start_s >= self._long_shot_s:
            self._close(time_s, timed=True)
        self._offer(time_s, frame)
        self._previous = (time_s, signature)

    def finish(self, *, end_s: float) -> list[Scene]:
        spans = [*self._closed, _Span(self._start_s, max(end_s, self._start_s), self._pick(end_s))]
        if len(spans) > 1 and spans[-1].length_s < self._min_scene_s:
            spans[-2:] = [_Span(spans[-2].start_s, spans[-1].end_s, spans[-2].keyframe)]
        while len(spans) > self._max_scenes:
            _merge_shortest(spans)
        return [Scene(index=i, start_s=s.start_s, end_s=s.end_s, keyframe=s.keyframe) for i, s in enumerate(spans)]

    def _cut(self, at_s: float) -> None:
        if at_s - self._start_s >= self._min_scene_s:
            self._close(at_s, timed=False)
        elif self._timed and self._closed:
            # A timed split fell just before a real cut: move the split onto the cut.
            last = self._closed.pop()
            self._closed.append(_Span(last.start_s, at_s, last.keyframe))
            self._reset(at_s, timed=False)

    def _close(self, at_s: float, *, timed: bool) -> None:
        self._closed.append(_Span(self._start_s, at_s, self._pick(at_s)))
        # Merge as we go, so a video with thousands of cuts never holds more than max_scenes keyframes.
        if len(self._closed) >= max(self._max_scenes, 2):
            _merge_shortest(self._closed)
        self._reset(at_s, timed=timed)

    def _reset(self, start_s: float, *, timed: bool) -> None:
        self._start_s = start_s
        self._timed = timed
        self._candidates = []
        self._spacing_s = _CANDIDATE_SPACING_S

    def _offer(self, time_s: float, frame: av.VideoFrame) -> None:
        if self._candidates and time_s < self._candidates[-1][0] + self._spacing_s:
            return
        self._candidates.append((time_s, _keyframe_image(frame)))
        if len(self._candidates) > _CANDIDATES:
            self._candidates = self._candidates[::2]
            self._spacing_s *= 2

    def _pick(self, end_s: float) -> Image.Image:
        middle_s = (self._start_s + end_s) / 2
        ranked = sorted(self._candidates, key=lambda candidate: abs(candidate[0] - middle_s))
        return next((image for _, image in ranked if _informative(image)), ranked[0][1])


def _merge_shortest(spans: list[_Span]) -> None:
    """Merge the shortest span into its shorter neighbour, keeping the keyframe of the longer of the two."""
    i = min(range(len(spans)), key=lambda k: spans[k].length_s)
    if i == len(spans) - 1 or (i > 0 and spans[i - 1].length_s <= spans[i + 1].length_s):
        i -= 1
    first, second = spans[i], spans[i + 1]
    keyframe = first.keyframe if first.length_s >= second.length_s else second.keyframe
    spans[i : i + 2] = [_Span(first.start_s, second.end_s, keyframe)]


def _signature(frame: av.VideoFrame) -> npt.NDArray[np.float32]:
    width, height = _SIGNATURE_SIZE
    rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    hsv = np.asarray(Image.fromarray(rgb).convert("HSV"))
    parts = [np.bincount(hsv[..., c].ravel() >> shift, minlength=256 >> shift) for c, shift in ((0, 4), (1, 5), (2, 5))]
    histogram = np.concatenate(parts).astype(np.float32)
    histogram /= histogram.sum()
    return histogram


def _keyframe_image(frame: av.VideoFrame) -> Image.Image:
    scale = min(1.0, KEYFRAME_MAX_SIDE / max(frame.width, frame.height))
    size = {"width": max(2, round(frame.width * scale)), "height": max(2, round(frame.height * scale))}
    image: Image.Image = frame.reformat(format="rgb24", **size).to_image()  # type: ignore[no-untyped-call]
    # Phones store portrait video sideways plus a rotation to apply on display.
    return image.rotate(frame.rotation, expand=True) if frame.rotation else image


def _luma(image: Image.Image) -> npt.NDArray[np.uint8]:
    return np.asarray(image.convert("L").reduce(4))


def _contrast(image: Image.Image) -> float:
    return float(_luma(image).std())


def _informative(image: Image.Image) -> bool:
    """Not a black, white or flat frame (fades, title cards of one colour)."""
    luma = _luma(image)
    return 24.0 <= float(luma.mean()) <= 235.0 and float(luma.std()) >= 12.0
