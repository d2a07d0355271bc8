"""The simulator speaks AWS's JSON 1.1 protocol as botocore expects it: targets, `__type` errors, limits, auth."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import pytest
from aws.cloud_support import SECRET, Sim
from botocore.config import Config
from botocore.exceptions import ClientError

from trove_awssim.launch import Cloud


def client(cloud: Cloud, service: str, *, key: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.sim,
        region_name=cloud.region,
        aws_access_key_id=key or cloud.access_key_id,
        aws_secret_access_key=SECRET,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_errors_come_back_as_botocore_client_errors(cloud: Cloud) -> None:
    comprehend = client(cloud, "comprehend")
    with pytest.raises(ClientError) as too_long:
        comprehend.detect_entities(Text="é" * 2501, LanguageCode="en")
    assert code(too_long) == "TextSizeLimitExceededException"
    with pytest.raises(ClientError) as too_many:
        comprehend.batch_detect_key_phrases(TextList=["a b c"] * 26, LanguageCode="en")
    assert code(too_many) == "BatchSizeLimitExceededException"
    with pytest.raises(ClientError) as unsupported:
        comprehend.detect_key_phrases(Text="hallo", LanguageCode="xx")
    assert code(unsupported) == "UnsupportedLanguageException"

    rekognition = client(cloud, "rekognition")
    with pytest.raises(ClientError) as too_large:
        rekognition.detect_labels(Image={"Bytes": b"\x89PNG" + b"\0" * (5 * 1024 * 1024)})
    assert code(too_large) == "ImageTooLargeException"
    with pytest.raises(ClientError) as not_an_image:
        rekognition.detect_text(Image={"Bytes": b"GIF89a not really"})
    assert code(not_an_image) == "InvalidImageFormatException"

    with pytest.raises(ClientError) as unknown_job:
        client(cloud, "transcribe").get_transcription_job(TranscriptionJobName="never-started")
    assert code(unknown_job) == "NotFoundException"


def test_only_the_configured_access_key_is_accepted(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as wrong:
        client(cloud, "comprehend", key="AKIDSOMEBODYELSE0001").detect_dominant_language(Text="hello there")
    assert code(wrong) == "UnrecognizedClientException"
    answer = httpx.post(
        cloud.sim, headers={"X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage"}, content=b"{}"
    )
    assert answer.status_code == 403
    assert answer.json()["__type"] == "MissingAuthenticationTokenException"


async def test_throttling_answers_throttling_exception_then_passes(cloud: Cloud, sim: Sim) -> None:
    await sim.throttle(1)
    comprehend = client(cloud, "comprehend")
    with pytest.raises(ClientError) as throttled:
        comprehend.detect_dominant_language(Text="The weather is fine today.")
    assert code(throttled) == "ThrottlingException"
    languages = comprehend.detect_dominant_language(Text="The weather is fine today.")["Languages"]
    assert languages[0]["LanguageCode"] == "en"


def test_rekognition_reads_images_from_s3_too(cloud: Cloud, s3: Any, bucket: str) -> None:
    from aws.cloud_support import media

    s3.put_object(Bucket=bucket, Key="cat.png", Body=media("chelsea.png").read_bytes())
    labels = client(cloud, "rekognition").detect_labels(
        Image={"S3Object": {"Bucket": bucket, "Name": "cat.png"}}, MinConfidence=1
    )
    assert any("cat" in [p["Name"] for p in label["Parents"]] for label in labels["Labels"])
