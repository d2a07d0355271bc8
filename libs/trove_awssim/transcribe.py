"""Transcribe's batch jobs (2017-10-26): media read from S3, Whisper's transcript written back in AWS's JSON.

A job runs in the background while GetTranscriptionJob answers IN_PROGRESS; its transcript goes to the output
bucket (or, without one, is served by the simulator itself, as AWS serves it from a bucket of its own).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from trove_awssim.models import LocalModels
from trove_awssim.s3 import S3Reader
from trove_awssim.wire import AwsError
from trove_awssim.wire import field as required
from trove_ml.speech import Transcript

logger = logging.getLogger(__name__)

_PUNCTUATION = ".,?!;:"
# Whisper's ISO 639-1 codes as Transcribe's locale codes; the rest become "xx-XX".
LOCALES = {"en": "en-US", "es": "es-US", "pt": "pt-BR", "zh": "zh-CN", "ja": "ja-JP", "ko": "ko-KR", "hi": "hi-IN"}


@dataclass(slots=True)
class Job:
    name: str
    media_uri: str
    output_bucket: str | None
    output_key: str
    status: str = "IN_PROGRESS"
    language_code: str = ""
    language_score: float = 0.0
    failure: str = ""
    transcript_uri: str = ""
    created: float = field(default_factory=time.time)
    completed: float | None = None

    def view(self) -> dict[str, Any]:
        job: dict[str, Any] = {
            "TranscriptionJobName": self.name,
            "TranscriptionJobStatus": self.status,
            "Media": {"MediaFileUri": self.media_uri},
            "CreationTime": self.created,
            "StartTime": self.created,
        }
        if self.language_code:
            job |= {"LanguageCode": self.language_code, "IdentifiedLanguageScore": self.language_score}
        if self.status == "COMPLETED":
            job |= {"Transcript": {"TranscriptFileUri": self.transcript_uri}, "CompletionTime": self.completed}
        if self.status == "FAILED":
            job |= {"FailureReason": self.failure, "CompletionTime": self.completed}
        return job


def locale(language: str) -> str:
    return LOCALES.get(language, f"{language}-{language.upper()}")


def transcript_json(*, job_name: str, transcript: Transcript, language_code: str) -> dict[str, Any]:
    """Whisper's transcript in Transcribe's output format: items (words and punctuation) and audio segments."""
    items: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for segment in transcript.segments:
        first = len(items)
        for word in segment.words:
            text = word.text.strip()
            bare = text.rstrip(_PUNCTUATION)
            if bare:
                items.append(
                    {
                        "id": len(items),
                        "type": "pronunciation",
                        "start_time": f"{word.start_s:.3f}",
                        "end_time": f"{word.end_s:.3f}",
                        "alternatives": [{"confidence": f"{word.probability:.4f}", "content": bare}],
                    }
                )
            for mark in text[len(bare) :]:
                items.append(
                    {"id": len(items), "type": "punctuation", "alternatives": [{"confidence": "0.0", "content": mark}]}
                )
        segments.append(
            {
                "id": len(segments),
                "transcript": segment.text.strip(),
                "start_time": f"{segment.start_s:.3f}",
                "end_time": f"{segment.end_s:.3f}",
                "items": list(range(first, len(items))),
            }
        )
    text = " ".join(s.text.strip() for s in transcript.segments)
    return {
        "jobName": job_name,
        "accountId": "000000000000",
        "status": "COMPLETED",
        "results": {
            "language_code": language_code,
            "transcripts": [{"transcript": text}],
            "items": items,
            "audio_segments": segments,
        },
    }


class Transcribe:
    """Transcription jobs, run one at a time by Whisper."""

    def __init__(self, *, models: LocalModels, s3: S3Reader, self_url: str = "") -> None:
        self._models = models
        self._s3 = s3
        self.self_url = self_url
        self._jobs: dict[str, Job] = {}
        self._served: dict[str, bytes] = {}  # transcripts of jobs without an output bucket
        self._tasks: set[asyncio.Task[None]] = set()
        self._one_at_a_time = asyncio.Semaphore(1)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def served(self, name: str) -> bytes | None:
        return self._served.get(name)

    def _job(self, body: dict[str, Any]) -> Job:
        name = str(required(body, "TranscriptionJobName"))
        job = self._jobs.get(name)
        if job is None:
            raise AwsError(
                "NotFoundException", "The requested job couldn't be found. Check the job name and try again."
            )
        return job

    async def StartTranscriptionJob(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(required(body, "TranscriptionJobName"))
        uri = str(required(body, "Media").get("MediaFileUri", ""))
        if not uri.startswith("s3://"):
            raise AwsError("BadRequestException", "The S3 URI must start with s3://")
        if not body.get("LanguageCode") and not body.get("IdentifyLanguage"):
            raise AwsError("BadRequestException", "Either LanguageCode or IdentifyLanguage must be set")
        if name in self._jobs:
            raise AwsError("ConflictException", "The requested job name already exists. Use a different job name.")
        key = str(body.get("OutputKey") or f"{name}.json")
        if key.endswith("/"):
            key = f"{key}{name}.json"
        job = Job(name=name, media_uri=uri, output_bucket=body.get("OutputBucketName"), output_key=key)
        self._jobs[name] = job
        task = asyncio.create_task(self._run(job, language=str(body.get("LanguageCode") or "")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"TranscriptionJob": job.view()}

    async def GetTranscriptionJob(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"TranscriptionJob": self._job(body).view()}

    async def DeleteTranscriptionJob(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self._job(body)
        del self._jobs[job.name]
        self._served.pop(job.name, None)
        return {}

    async def _run(self, job: Job, *, language: str) -> None:
        try:
            async with self._one_at_a_time:
                await self._transcribe(job, language=language)
        except Exception as exc:  # the job fails, as AWS's do, with a reason
            logger.warning("transcription job failed", extra={"job": job.name, "error": str(exc)})
            job.failure = exc.message if isinstance(exc, AwsError) else f"{type(exc).__name__}: {exc}"
            job.status, job.completed = "FAILED", time.time()

    async def _transcribe(self, job: Job, *, language: str) -> None:
        source = urlparse(job.media_uri)
        data = await self._s3.read(bucket=source.netloc, key=source.path.lstrip("/"))
        with tempfile.TemporaryDirectory(prefix="awssim-") as tmp:
            path = Path(tmp) / Path(source.path).name
            path.write_bytes(data)
            transcript = await asyncio.to_thread(self._models.transcribe, path)
        job.language_code = language or locale(transcript.language or "en")
        job.language_score = transcript.language_probability
        body = json.dumps(transcript_json(job_name=job.name, transcript=transcript, language_code=job.language_code))
        if job.output_bucket:
            await self._s3.write(bucket=job.output_bucket, key=job.output_key, data=body.encode())
            job.transcript_uri = f"{self._s3.endpoint_url}/{job.output_bucket}/{job.output_key}"
        else:
            self._served[job.name] = body.encode()
            job.transcript_uri = f"{self.self_url}/_sim/transcripts/{job.name}"
        job.status, job.completed = "COMPLETED", time.time()
