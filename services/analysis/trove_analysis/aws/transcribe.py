"""Speech through Transcribe: the file staged in S3, a batch job with language identification polled with
backoff, its transcript JSON read back from the output bucket into timed segments like the local transcriber's."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import av

from trove_analysis.aws._client import AwsClients, aws_errors, per_started
from trove_analysis.errors import ProviderSetupError
from trove_analysis.metering import report
from trove_analysis.providers import Facts
from trove_ml.errors import MediaError
from trove_ml.probe import declared_duration_s

logger = logging.getLogger(__name__)

API_VERSION = "2017-10-26"
SERVICE = "aws-transcribe"  # billing's price: per minute of audio, billed per second with a 15 s minimum
MIN_BILLED_S = 15.0


def _duration_s(path: Path) -> float:
    try:
        with av.open(str(path)) as container:
            return declared_duration_s(container) or 0.0
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"the audio cannot be read: {exc}") from exc


def segments_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Timed segments with their words: Transcribe's audio segments, else sentences cut at full stops."""
    items = results.get("items", [])
    spans = [(s.get("items", []), s.get("transcript", "")) for s in results.get("audio_segments", [])]
    if not spans:
        spans, current = [], []
        for i, item in enumerate(items):
            current.append(i)
            if item.get("type") == "punctuation" and item["alternatives"][0]["content"] in ".?!":
                spans.append((current, ""))
                current = []
        if current:
            spans.append((current, ""))
    segments = []
    for indices, transcript in spans:
        words, text = [], ""
        for i in indices:
            item = items[i]
            content = item["alternatives"][0]["content"]
            if item.get("type") == "punctuation":
                text += content
                continue
            text += f" {content}" if text else content
            words.append(
                {
                    "start_s": float(item["start_time"]),
                    "end_s": float(item["end_time"]),
                    "text": content,
                    "probability": float(item["alternatives"][0].get("confidence", 0.0)),
                }
            )
        if words:
            text = transcript or text
            segments.append({"start_s": words[0]["start_s"], "end_s": words[-1]["end_s"], "text": text, "words": words})
    return segments


class TranscribeTranscriber:
    """Transcription jobs of Amazon Transcribe; the staged media and the transcript are deleted afterwards."""

    def __init__(self, *, clients: AwsClients) -> None:
        self._clients = clients
        self._settings = clients.settings
        self.provider = f"aws/transcribe/{API_VERSION}"

    async def transcribe(self, path: Path, *, max_duration_s: float | None = None) -> Facts:
        duration_s = await asyncio.to_thread(_duration_s, path)
        if max_duration_s is not None and duration_s > max_duration_s:
            raise MediaError(f"the audio is {duration_s:.0f} s long; at most {max_duration_s:.0f} s are transcribed")
        settings = self._settings
        if not settings.staging_bucket:
            raise ProviderSetupError(
                "TROVE_ANALYSIS_AWS__STAGING_BUCKET is not set: Transcribe reads media from that S3 bucket"
            )
        name = f"trove-{uuid.uuid4().hex}"
        key = f"{settings.staging_prefix}{name}{path.suffix.lower()}"
        output_key = f"{settings.staging_prefix}{name}.json"
        async with self._clients.client("s3") as s3, self._clients.client("transcribe") as transcribe:
            async with aws_errors("s3", bucket=settings.staging_bucket, bucket_setting="STAGING_BUCKET"):
                await s3.upload_file(str(path), settings.staging_bucket, key)
            try:
                job = await self._run_job(
                    transcribe, name=name, uri=f"s3://{settings.staging_bucket}/{key}", key=output_key
                )
                async with aws_errors("s3", bucket=settings.output_bucket, bucket_setting="TRANSCRIPTS_BUCKET"):
                    got = await s3.get_object(Bucket=settings.output_bucket, Key=output_key)
                    async with got["Body"] as stream:
                        transcript = json.loads(await stream.read())
            finally:
                await _quietly(s3.delete_object(Bucket=settings.staging_bucket, Key=key))
                await _quietly(s3.delete_object(Bucket=settings.output_bucket, Key=output_key))
                await _quietly(transcribe.delete_transcription_job(TranscriptionJobName=name))
        report(service=SERVICE, units=per_started(duration_s, minimum=MIN_BILLED_S) / 60, call=f"job {name}")
        language = str(job.get("LanguageCode", ""))
        return {
            "language": language.split("-")[0],
            "language_probability": float(job.get("IdentifiedLanguageScore", 0.0)),
            "duration_s": duration_s,
            "segments": segments_of(transcript.get("results", {})),
        }

    async def _run_job(self, transcribe: Any, *, name: str, uri: str, key: str) -> dict[str, Any]:
        settings = self._settings
        async with aws_errors("transcribe", bucket=settings.output_bucket, bucket_setting="TRANSCRIPTS_BUCKET"):
            await transcribe.start_transcription_job(
                TranscriptionJobName=name,
                Media={"MediaFileUri": uri},
                IdentifyLanguage=True,
                OutputBucketName=settings.output_bucket,
                OutputKey=key,
            )
        wait_s, deadline = settings.transcribe_poll_s, time.monotonic() + settings.transcribe_timeout_s
        while True:
            await asyncio.sleep(wait_s)
            got = await transcribe.get_transcription_job(TranscriptionJobName=name)
            job: dict[str, Any] = got["TranscriptionJob"]
            status = job.get("TranscriptionJobStatus")
            if status == "COMPLETED":
                return job
            if status == "FAILED":
                raise MediaError(f"Transcribe could not transcribe the file: {job.get('FailureReason', 'no reason')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Transcribe job {name} ran past {settings.transcribe_timeout_s:g} s")
            wait_s = min(settings.transcribe_poll_max_s, wait_s * 1.5)


async def _quietly(call: Any) -> None:
    try:
        await call
    except Exception as exc:  # cleanup only: a leftover object or job is not worth failing the stage
        logger.warning("could not clean up after a transcription", extra={"error": str(exc)})
