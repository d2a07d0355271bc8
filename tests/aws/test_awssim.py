"""The simulator speaks AWS's JSON 1.1 protocol as botocore expects it: targets, `__type` errors, limits, auth."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest
from aws.cloud_support import SECRET, Sim, media
from botocore.config import Config
from botocore.exceptions import ClientError

from trove_awssim.launch import Cloud


@contextmanager
def client(cloud: Cloud, service: str, *, key: str | None = None) -> Iterator[Any]:
    """A botocore client of the simulator that never retries, closed after use (its sockets with it)."""
    made = boto3.client(
        service,
        endpoint_url=cloud.sim,
        region_name=cloud.region,
        aws_access_key_id=key or cloud.access_key_id,
        aws_secret_access_key=SECRET,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        yield made
    finally:
        made.close()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_errors_come_back_as_botocore_client_errors(cloud: Cloud) -> None:
    with client(cloud, "comprehend") as comprehend:
        with pytest.raises(ClientError) as too_long:
            comprehend.detect_entities(Text="é" * 2501, LanguageCode="en")
        assert code(too_long) == "TextSizeLimitExceededException"
        with pytest.raises(ClientError) as too_many:
            comprehend.batch_detect_key_phrases(TextList=["a b c"] * 26, LanguageCode="en")
        assert code(too_many) == "BatchSizeLimitExceededException"
        with pytest.raises(ClientError) as unsupported:
            comprehend.detect_key_phrases(Text="hallo", LanguageCode="xx")
        assert code(unsupported) == "UnsupportedLanguageException"

    with client(cloud, "rekognition") as rekognition:
        with pytest.raises(ClientError) as too_large:
            rekognition.detect_labels(Image={"Bytes": b"\x89PNG" + b"\0" * (5 * 1024 * 1024)})
        assert code(too_large) == "ImageTooLargeException"
        with pytest.raises(ClientError) as not_an_image:
            rekognition.detect_text(Image={"Bytes": b"GIF89a not really"})
        assert code(not_an_image) == "InvalidImageFormatException"

    with client(cloud, "transcribe") as transcribe, pytest.raises(ClientError) as unknown_job:
        transcribe.get_transcription_job(TranscriptionJobName="never-started")
    assert code(unknown_job) == "NotFoundException"


def test_only_the_configured_access_key_is_accepted(cloud: Cloud) -> None:
    with client(cloud, "comprehend", key="AKIDSOMEBODYELSE0001") as comprehend, pytest.raises(ClientError) as wrong:
        comprehend.detect_dominant_language(Text="hello there")
    assert code(wrong) == "UnrecognizedClientException"
    with httpx.Client() as http:
        answer = http.post(
            cloud.sim, headers={"X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage"}, content=b"{}"
        )
    assert answer.status_code == 403
    assert answer.json()["__type"] == "MissingAuthenticationTokenException"


async def test_throttling_answers_throttling_exception_then_passes(cloud: Cloud, sim: Sim) -> None:
    await sim.throttle(1)
    with client(cloud, "comprehend") as comprehend:
        with pytest.raises(ClientError) as throttled:
            comprehend.detect_dominant_language(Text="The weather is fine today.")
        assert code(throttled) == "ThrottlingException"
        languages = comprehend.detect_dominant_language(Text="The weather is fine today.")["Languages"]
    assert languages[0]["LanguageCode"] == "en"


def test_rekognition_reads_images_from_s3_too(cloud: Cloud, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cat.png", Body=media("chelsea.png").read_bytes())
    with client(cloud, "rekognition") as rekognition:
        labels = rekognition.detect_labels(Image={"S3Object": {"Bucket": bucket, "Name": "cat.png"}}, MinConfidence=1)
    assert any("cat" in [p["Name"] for p in label["Parents"]] for label in labels["Labels"])
