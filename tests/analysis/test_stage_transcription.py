"""The transcription stage: which files it applies to, speech segments, language, and the transcript view."""

from __future__ import annotations

from trove_analysis.stages.transcription import TRANSCRIPTION, SpeechSegment, TranscriptResult, Word


def test_it_applies_to_audio_and_to_videos_with_sound() -> None:
    assert TRANSCRIPTION.applies("audio", has_audio=True)
    assert TRANSCRIPTION.applies("video", has_audio=True)
    assert not TRANSCRIPTION.applies("video", has_audio=False)
    assert not TRANSCRIPTION.applies("image", has_audio=False)


def test_spoken_segments_views_and_language() -> None:
    result = TranscriptResult(
        language="en",
        duration_s=4.0,
        segments=(
            SpeechSegment(start_s=0.0, end_s=2.0, text=" Sunny today. ", words=(Word(0.0, 1.0, "Sunny", 0.9),)),
            SpeechSegment(start_s=2.0, end_s=3.0, text="  "),
        ),
    )
    (segment,) = TRANSCRIPTION.segments(result)
    assert (segment.kind, segment.start_s, segment.end_s, segment.text) == ("speech", 0.0, 2.0, "Sunny today.")
    assert TRANSCRIPTION.facts(result) == {"language": "en"}
    transcript = TRANSCRIPTION.view(result)["transcript"]
    assert transcript["language"] == "en" and transcript["segments"][0] == {
        "start_s": 0.0,
        "end_s": 2.0,
        "text": " Sunny today. ",
    }
    assert TRANSCRIPTION.decode(TRANSCRIPTION.encode(result)) == result
