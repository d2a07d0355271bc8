"""Speech to timed text with Whisper (faster-whisper on CTranslate2, int8 on CPU) for audio files and video tracks."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel  # type: ignore[import-untyped]
from faster_whisper.vad import VadOptions, get_speech_timestamps  # type: ignore[import-untyped]

from trove_ml.errors import MediaError

_SAMPLE_RATE = 16_000
# Measured on 69 s of the dev speech: beams 1 and 2 invented or garbled words across sentence borders and cost more
# CPU than beam 5 (~0.3 CPU-s per audio-s), as their failed windows are decoded again at higher temperatures.
_BEAM_SIZE = 5
# The same VAD settings decide "no speech at all" up front and cut the silences inside transcribe().
_VAD = VadOptions()
# PyAV stops quietly where a cut-off file ends, so truncation shows only as less audio than the stream declares.
# Durations estimated from the bitrate are approximate, hence the slack.
_TRUNCATION_SLACK_S = 1.0
_TRUNCATION_SLACK_RATIO = 0.05


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its time span in seconds from the start of the file and Whisper's confidence (0–1)."""

    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """A span of speech (about a sentence) with its words; the words lie inside [start_s, end_s]."""

    start_s: float
    end_s: float
    text: str
    words: list[Word]


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was said in a file.

    `language` is an ISO 639-1 code ("en"); it is "" with probability 0.0 when the file holds no speech, since
    there was nothing to detect it from. `duration_s` is the length of the audio track (0.0 when there is none).
    """

    language: str
    language_probability: float
    duration_s: float
    segments: list[SpeechSegment]


class Transcriber:
    """Transcribes audio files and the audio track of video files; loads the model on first use.

    Args:
        model_dir: the folder that `scripts/models.sh CACHE_DIR` assembles, CACHE_DIR/whisper-base.
        threads: CPU threads for the model.
    """

    model_name = "whisper-base"

    def __init__(self, model_dir: Path, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._model_dir = model_dir
        self._threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    def transcribe(self, path: Path, *, max_duration_s: float | None = None) -> Transcript:
        """Timed segments and words of the speech in `path`; raises MediaError if its audio cannot be decoded.

        `max_duration_s`: decoding stops with MediaError once the audio runs past it, whatever the header says.
        """
        audio = _decode(path, max_duration_s=max_duration_s)
        duration_s = len(audio) / _SAMPLE_RATE
        if len(audio) == 0 or not get_speech_timestamps(audio, _VAD):
            return Transcript(language="", language_probability=0.0, duration_s=duration_s, segments=[])
        segments, info = self._loaded().transcribe(
            audio, beam_size=_BEAM_SIZE, word_timestamps=True, vad_filter=True, vad_parameters=_VAD
        )
        return Transcript(
            language=str(info.language),
            language_probability=float(info.language_probability),
            duration_s=duration_s,
            segments=[_segment(s) for s in segments],
        )

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                if not (self._model_dir / "model.bin").is_file():
                    raise FileNotFoundError(
                        f"no Whisper model in {self._model_dir}: run scripts/models.sh CACHE_DIR at install time"
                    )
                # local_files_only: a bad path must fail here, never turn into a download.
                self._model = WhisperModel(
                    str(self._model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._threads,
                    num_workers=1,
                    local_files_only=True,
                )
            return self._model


def _segment(segment: Any) -> SpeechSegment:
    words = [
        Word(start_s=float(w.start), end_s=float(w.end), text=w.word.strip(), probability=float(w.probability))
        for w in segment.words or []
    ]
    return SpeechSegment(start_s=float(segment.start), end_s=float(segment.end), text=segment.text.strip(), words=words)


def _decode(path: Path, *, max_duration_s: float | None = None) -> npt.NDArray[np.float32]:
    """16 kHz mono samples of the first audio stream; empty when the file has no audio stream.

    Decoded packet by packet (undecodable packets are skipped, as faster-whisper does), so a file whose header
    lies about its length is refused once its audio passes `max_duration_s`, before it fills memory.
    """
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        # Missing files and permissions are the caller's environment, not bad media.
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise
        raise MediaError(f"{path.name}: the audio cannot be decoded ({exc.strerror or exc})") from exc
    try:
        with container:
            if not container.streams.audio:
                return np.zeros(0, dtype=np.float32)
            stream = container.streams.audio[0]
            declared_s = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            audio = _samples(container, stream, path=path, max_duration_s=max_duration_s)
    except av.error.FFmpegError as exc:  # once the file is open, any decoder error is the data's (even EPERM)
        raise MediaError(f"{path.name}: the audio cannot be decoded ({exc.strerror or exc})") from exc
    decoded_s = len(audio) / _SAMPLE_RATE
    if declared_s is not None and declared_s - decoded_s > max(
        _TRUNCATION_SLACK_S, _TRUNCATION_SLACK_RATIO * declared_s
    ):
        raise MediaError(
            f"{path.name} is truncated: it declares {declared_s:.1f} s of audio, "
            f"but only {decoded_s:.1f} s can be decoded"
        )
    return audio


def _samples(
    container: av.container.InputContainer, stream: Any, *, path: Path, max_duration_s: float | None
) -> npt.NDArray[np.float32]:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=_SAMPLE_RATE)
    limit = None if max_duration_s is None else int((max_duration_s + _TRUNCATION_SLACK_S) * _SAMPLE_RATE)
    chunks: list[npt.NDArray[Any]] = []
    total = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:  # a damaged packet (invalid data, or EPERM from some decoders): skip it
            continue
        for frame in frames:
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += len(chunk)
        if limit is not None and total > limit:
            assert max_duration_s is not None
            raise MediaError(
                f"{path.name}: the audio runs past {max_duration_s / 60:.1f} minutes, the longest your tier allows "
                "(whatever its header says)"
            )
    chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)
