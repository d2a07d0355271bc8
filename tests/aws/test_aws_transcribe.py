"""The Transcribe provider against the simulator: media staged in moto's S3, a job polled, its JSON read back."""

from __future__ import annotations

from typing import Any

import pytest
from aws.cloud_support import Sim, media, settings_for

from trove_analysis.aws._client import AwsClients
from trove_analysis.aws.transcribe import TranscribeTranscriber, segments_of
from trove_analysis.errors import ProviderSetupError
from trove_analysis.metering import metered
from trove_awssim.launch import Cloud
from trove_ml.errors import MediaError


async def test_speech_comes_back_as_timed_segments_with_the_language(
    clients: AwsClients, s3: Any, bucket: str, sim: Sim
) -> None:
    transcriber = TranscribeTranscriber(clients=clients)
    assert transcriber.provider == "aws/transcribe/2017-10-26"

    with metered() as calls:
        facts = await transcriber.transcribe(media("weather_report.wav"))
    assert facts["language"] == "en"
    text = " ".join(segment["text"] for segment in facts["segments"]).lower()
    assert "rain" in text and "snow" in text
    words = [word for segment in facts["segments"] for word in segment["words"]]
    assert words and all(0 <= w["start_s"] <= w["end_s"] <= facts["duration_s"] + 0.5 for w in words)
    # 7.5 s of audio is billed as Transcribe's 15 s minimum, in minutes.
    assert [(call.service, call.units) for call in calls] == [("aws-transcribe", 0.25)]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # staged media and transcript are gone
    targets = [call["target"] for call in await sim.calls()]
    assert "Transcribe.StartTranscriptionJob" in targets and "Transcribe.DeleteTranscriptionJob" in targets


async def test_a_throttled_job_start_is_retried(clients: AwsClients, sim: Sim) -> None:
    await sim.throttle(1, "Transcribe.StartTranscriptionJob")
    facts = await TranscribeTranscriber(clients=clients).transcribe(media("weather_report.wav"))
    assert facts["segments"]
    starts = [call["error"] for call in await sim.calls() if call["target"] == "Transcribe.StartTranscriptionJob"]
    assert starts == ["ThrottlingException", ""]


async def test_a_missing_bucket_fails_for_good_naming_the_setting(cloud: Cloud) -> None:
    clients = AwsClients(settings_for(cloud, bucket="no-such-bucket-here"))
    with pytest.raises(ProviderSetupError, match="TROVE_ANALYSIS_AWS__STAGING_BUCKET"):
        await TranscribeTranscriber(clients=clients).transcribe(media("weather_report.wav"))
    with pytest.raises(ProviderSetupError, match="TROVE_ANALYSIS_AWS__STAGING_BUCKET"):
        await TranscribeTranscriber(clients=AwsClients(settings_for(cloud))).transcribe(media("weather_report.wav"))


async def test_a_wrong_access_key_fails_for_good_naming_the_setting(cloud: Cloud, bucket: str) -> None:
    clients = AwsClients(settings_for(cloud, bucket=bucket, access_key_id="AKIDWRONGWRONGWRONG1"))
    with pytest.raises(ProviderSetupError, match="TROVE_ANALYSIS_AWS__ACCESS_KEY_ID"):
        await TranscribeTranscriber(clients=clients).transcribe(media("weather_report.wav"))


async def test_audio_past_the_tier_limit_is_refused_before_any_upload(clients: AwsClients, sim: Sim) -> None:
    with pytest.raises(MediaError, match="at most 3 s"):
        await TranscribeTranscriber(clients=clients).transcribe(media("weather_report.wav"), max_duration_s=3)
    assert await sim.calls() == []


def test_a_transcript_without_audio_segments_is_cut_into_sentences() -> None:
    def word(text: str, start: float, end: float) -> dict[str, Any]:
        alternatives = [{"content": text, "confidence": "0.9"}]
        return {"type": "pronunciation", "start_time": str(start), "end_time": str(end), "alternatives": alternatives}

    stop = {"type": "punctuation", "alternatives": [{"content": ".", "confidence": "0.0"}]}
    items = [word("Hello", 0.1, 0.4), word("there", 0.5, 0.9), stop, word("Rain", 2.0, 2.4), word("today", 2.5, 3.0)]
    segments = segments_of({"items": items})
    assert [(s["text"], s["start_s"], s["end_s"]) for s in segments] == [
        ("Hello there.", 0.1, 0.9),
        ("Rain today", 2.0, 3.0),
    ]
