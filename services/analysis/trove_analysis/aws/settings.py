"""Settings of the AWS providers, nested into the analysis Settings as `aws` (TROVE_ANALYSIS_AWS__*)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

ENV = "TROVE_ANALYSIS_AWS__"


class AwsEndpoints(BaseModel):
    """Endpoint URLs per service; unset means AWS's own for the region (set them for a simulator)."""

    rekognition: str | None = None
    transcribe: str | None = None
    comprehend: str | None = None
    s3: str | None = None


class AwsSettings(BaseModel):
    """Credentials, region, endpoints, retries and the buckets Transcribe works through.

    Without an access key the default chain of botocore applies (AWS_* variables, ~/.aws, an instance role).
    """

    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    endpoints: AwsEndpoints = AwsEndpoints()
    retry_mode: Literal["standard", "adaptive"] = Field(
        default="standard", description="botocore's retries: exponential backoff with jitter on throttling"
    )
    max_attempts: int = Field(default=5, ge=1, le=20, description="tries of one call, the first included")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    read_timeout_s: float = Field(default=60.0, gt=0, le=900)
    staging_bucket: str = Field(default="", description="where media is uploaded for Transcribe")
    transcripts_bucket: str = Field(default="", description="Transcribe's output bucket; default the staging one")
    staging_prefix: str = "trove-transcribe/"
    transcribe_poll_s: float = Field(default=2.0, gt=0, le=60, description="first wait for a job; grows to the max")
    transcribe_poll_max_s: float = Field(default=20.0, gt=0, le=600)
    transcribe_timeout_s: float = Field(default=3600.0, gt=0, le=86400)
    min_label_confidence: float = Field(default=55.0, ge=0, le=100, description="DetectLabels' MinConfidence")
    max_labels: int = Field(default=10, ge=1, le=1000)
    max_image_bytes: int = Field(default=5 * 1024 * 1024, ge=100_000, le=5 * 1024 * 1024)
    frames_at_once: int = Field(default=4, ge=1, le=64, description="video keyframes sent to Rekognition at once")
    max_text_chars: int = Field(default=100_000, ge=1000, description="longer texts are cut for Comprehend")

    @model_validator(mode="after")
    def _key_pair(self) -> AwsSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError(f"set both {ENV}ACCESS_KEY_ID and {ENV}SECRET_ACCESS_KEY, or neither")
        return self

    @property
    def output_bucket(self) -> str:
        return self.transcripts_bucket or self.staging_bucket
