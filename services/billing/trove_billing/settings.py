"""Billing service settings, from TROVE_BILLING_* environment variables."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings

from trove_common.settings import (
    GrpcServerSettings,
    LogLevel,
    MetricsSettings,
    OtelSettings,
    PostgresSettings,
    ServiceAuthSettings,
    env_config,
)

GiB = 1024**3

# Each tier's defaults; a variable like TROVE_BILLING_TIERS__PRO__UPLOADS_PER_MONTH overrides one field and
# leaves the tier's other defaults alone.
TIER_DEFAULTS: dict[str, dict[str, Any]] = {
    "free": {
        "max_media_duration_s": 2 * 3600,
        "max_file_bytes": 2 * GiB,
        "storage_bytes": 10 * GiB,
        "uploads_per_month": 1000,
        "processing_minutes_per_month": 300,
        "queue_priority": "standard",
        "monthly_budget": 1.0,
    },
    "pro": {
        "max_media_duration_s": 6 * 3600,
        "max_file_bytes": 10 * GiB,
        "storage_bytes": 200 * GiB,
        "uploads_per_month": 20_000,
        "processing_minutes_per_month": 3000,
        "queue_priority": "standard",
        "monthly_budget": 10.0,
    },
    "premium": {
        "max_media_duration_s": 12 * 3600,
        "max_file_bytes": 50 * GiB,
        "storage_bytes": 2048 * GiB,
        "uploads_per_month": 200_000,
        "processing_minutes_per_month": 30_000,
        "queue_priority": "premium",
        "monthly_budget": 100.0,
    },
}
TIER_NAMES = tuple(TIER_DEFAULTS)


class TierSettings(BaseModel):
    """Limits of one tier."""

    max_media_duration_s: float = Field(gt=0, description="longest audio/video analysed, in seconds")
    max_file_bytes: int = Field(gt=0, description="largest file accepted")
    storage_bytes: int = Field(gt=0, description="total bytes of a user's files")
    uploads_per_month: int = Field(gt=0)
    processing_minutes_per_month: float = Field(gt=0, description="local compute minutes of analysis per month")
    queue_priority: Literal["standard", "premium"]
    monthly_budget: float = Field(ge=0, le=1_000_000, description="default budget, in the ledger currency")


class Tiers(BaseModel):
    free: TierSettings
    pro: TierSettings
    premium: TierSettings

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {}
        for name, defaults in TIER_DEFAULTS.items():
            given = value.get(name, {})
            merged[name] = {**defaults, **given} if isinstance(given, dict) else given
        return merged

    def of(self, tier: str) -> TierSettings:
        limits = getattr(self, tier, None) if tier in TIER_DEFAULTS else None
        return limits if isinstance(limits, TierSettings) else self.free


def _default_prices() -> dict[str, float]:
    # Local models cost machine time; a CPU-second is priced like a small cloud VM's (about $0.04 an hour).
    # The cloud providers at AWS's public list prices (us-east-1, first volume tier), under the service name
    # each reports with its calls: Rekognition per image analysed by one call, Transcribe per minute of audio
    # (billed per second, 15 s minimum), Comprehend per unit of 100 characters (3 units minimum per document).
    return {
        "local-compute": 0.00001,
        "aws-rekognition-image": 0.001,
        "aws-transcribe": 0.024,
        "aws-comprehend": 0.0001,
        # An OpenAI-compatible embeddings server reports tokens: OpenAI's list price for text-embedding-3-small,
        # $0.02 per 1M tokens.
        "openai-embeddings": 0.02 / 1_000_000,
    }


class Settings(BaseSettings):
    model_config = env_config("billing")

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50051))
    postgres: PostgresSettings = PostgresSettings()
    otel: OtelSettings = OtelSettings()
    metrics: MetricsSettings = MetricsSettings()
    log_level: LogLevel = "INFO"
    tiers: Tiers = Field(default_factory=lambda: Tiers.model_validate({}))
    prices: dict[str, float] = Field(default_factory=_default_prices, description="price per unit, by service")
    currency: str = "USD"
