"""Speech transcription with the real Whisper base model on the dev recordings and on files made here."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from support import DEV_MEDIA

from trove_ml.errors import MediaError
from trove_ml.speech import Transcriber, Transcript

REPO = Path(__file__).resolve().parents[2]
# Where holiday.mp4's third sentence ("Back home, the cat ...") begins; Whisper's segment times are good to ~0.1 s.
CAT_SENTENCE_ONSET_S = 7.64
ONSET_TOLERANCE_S = 0.25


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    cache = Path(os.environ.get("TROVE_MODEL_DIR") or Path.home() / ".cache" / "trove" / "models")
    model_dir = cache / "whisper-base"
    if not (model_dir / "model.bin").is_file():
        env = {**os.environ, "PYTHON": sys.executable}
        subprocess.run(["bash", str(REPO / "scripts" / "models.sh"), str(cache)], check=True, env=env)
    return Transcriber(model_dir, threads=2)


@pytest.fixture(scope="module")
def holiday(transcriber: Transcriber) -> Transcript:
    return transcriber.transcribe(DEV_MEDIA / "holiday.mp4")


def _words(text: str) -> list[str]:
    # Apostrophes vanish ("today's" = "todays"); other punctuation splits ("stand-up" = "stand up").
    return re.sub(r"[^\w\s]", " ", re.sub(r"['’]", "", text.lower())).split()


def _wer(reference: str, hypothesis: str) -> float:
    ref, hyp = _words(reference), _words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / len(ref)


def test_wer_counts_word_substitutions_insertions_and_deletions() -> None:
    assert _wer("In today's stand up meeting.", "in todays stand-up meeting") == 0.0
    assert _wer("a b c d", "a x c d") == 0.25
    assert _wer("a b c d", "a b c d e") == 0.25
    assert _wer("a b c d", "a c d") == 0.25


@pytest.mark.parametrize("name", ["weather_report.wav", "pasta_recipe.mp3", "standup_meeting.wav"])
def test_dev_speech_is_transcribed_within_ten_percent_word_error(transcriber: Transcriber, name: str) -> None:
    reference = json.loads((DEV_MEDIA / "transcripts.json").read_text())[name]

    transcript = transcriber.transcribe(DEV_MEDIA / name)

    hypothesis = " ".join(segment.text for segment in transcript.segments)
    assert _wer(reference, hypothesis) <= 0.10, hypothesis
    assert transcript.language == "en"
    assert transcript.language_probability > 0.5
    assert 5.0 < transcript.duration_s < 10.0


def test_video_audio_track_has_timed_sentences(holiday: Transcript) -> None:
    cat = [segment for segment in holiday.segments if "cat" in _words(segment.text)]
    assert len(cat) == 1, holiday.segments
    before = holiday.segments[: holiday.segments.index(cat[0])]

    assert abs(cat[0].start_s - CAT_SENTENCE_ONSET_S) <= ONSET_TOLERANCE_S
    assert any("coffee" in _words(segment.text) for segment in before)
    assert all(segment.end_s <= cat[0].start_s for segment in before)
    assert next(word for word in cat[0].words if _words(word.text) == ["cat"]).start_s > CAT_SENTENCE_ONSET_S
    assert holiday.language == "en"
    assert holiday.duration_s == pytest.approx(11.9, abs=0.1)


def test_word_timestamps_increase_and_lie_inside_their_segment(holiday: Transcript) -> None:
    assert len(holiday.segments) >= 3
    previous_end_s = 0.0
    for segment in holiday.segments:
        assert segment.words
        assert " ".join(word.text for word in segment.words) == segment.text
        for word in segment.words:
            assert previous_end_s <= word.start_s <= word.end_s
            assert segment.start_s <= word.start_s and word.end_s <= segment.end_s
            assert 0.0 <= word.probability <= 1.0
            previous_end_s = word.end_s


def test_silence_gives_no_segments(transcriber: Transcriber, tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(silence), "trim", "0", "5"], check=True)

    transcript = transcriber.transcribe(silence)

    assert transcript.segments == []
    assert transcript.language == ""
    assert transcript.duration_s == pytest.approx(5.0)


def test_video_without_audio_gives_empty_transcript(transcriber: Transcriber, tmp_path: Path) -> None:
    silent_video = tmp_path / "no_audio.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(DEV_MEDIA / "holiday.mp4"), "-an", "-c:v", "copy", str(silent_video)],
        check=True,
    )

    transcript = transcriber.transcribe(silent_video)

    assert transcript.segments == []
    assert transcript.duration_s == 0.0


@pytest.mark.parametrize(
    ("kept_bytes", "reason"), [(20_000, "truncated: it declares 8.0 s"), (300, "cannot be decoded"), (0, "empty")]
)
def test_cut_off_mp3_is_a_media_error(transcriber: Transcriber, tmp_path: Path, kept_bytes: int, reason: str) -> None:
    cut = tmp_path / "cut.mp3"
    cut.write_bytes((DEV_MEDIA / "pasta_recipe.mp3").read_bytes()[:kept_bytes])

    with pytest.raises(MediaError, match=reason):
        transcriber.transcribe(cut)


def _tone_wav(path: Path, seconds: float, *, declared_s: float | None = None) -> Path:
    """A 16 kHz tone; `declared_s` rewrites the header's sizes to claim another length (a header that lies; 0 for
    the "length unknown" sizes of a streamed WAV, which decoders read to the end)."""
    samples = (8000 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 16_000)) / 16_000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.tobytes())
    if declared_s is not None:
        data = bytearray(path.read_bytes())
        claimed = int(declared_s * 16_000) * 2 if declared_s else 0xFFFFFFFF - 36
        data[4:8] = struct.pack("<I", 36 + claimed)
        data[40:44] = struct.pack("<I", claimed)
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("declared_s", [None, 0.0])
def test_decoding_stops_at_the_duration_limit_whatever_the_header_says(
    transcriber: Transcriber, tmp_path: Path, declared_s: float | None
) -> None:
    long = _tone_wav(tmp_path / "long.wav", 90, declared_s=declared_s)

    with pytest.raises(MediaError, match="runs past 0.5 minutes"):
        transcriber.transcribe(long, max_duration_s=30)


def test_audio_within_the_duration_limit_is_decoded_whole(transcriber: Transcriber, tmp_path: Path) -> None:
    tone = _tone_wav(tmp_path / "tone.wav", 20)

    assert transcriber.transcribe(tone, max_duration_s=30).duration_s == pytest.approx(20.0)


def test_damaged_packets_are_skipped_never_mistaken_for_a_permission_error(
    transcriber: Transcriber, tmp_path: Path
) -> None:
    """Flipped bits make some decoders answer EPERM; that is bad data (skipped), not the environment (retried)."""
    data = bytearray((DEV_MEDIA / "holiday.mp4").read_bytes())
    rng = np.random.default_rng(11)
    for at in rng.integers(64, len(data), size=24):
        data[at] ^= 1 << int(rng.integers(8))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    try:
        transcript = transcriber.transcribe(damaged, max_duration_s=600)
    except MediaError:
        return
    assert transcript.duration_s > 0
