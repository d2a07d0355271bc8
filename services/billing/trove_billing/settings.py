"""Billing service settings, from TROVE_BILLING_* environment variables."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

from trove_common.settings import GrpcServerSettings, LogLevel, OtelSettings, PostgresSettings, env_config


class TierSettings(BaseModel):
    """Limits of one tier; the defaults are the free tier's (set both fields when overriding another tier)."""

    max_media_duration_s: float = Field(default=2 * 3600, gt=0)
    max_file_bytes: int = Field(default=2 * 1024**3, gt=0)


class Tiers(BaseModel):
    free: TierSettings = TierSettings()
    pro: TierSettings = TierSettings(max_media_duration_s=6 * 3600, max_file_bytes=10 * 1024**3)
    premium: TierSettings = TierSettings(max_media_duration_s=12 * 3600, max_file_bytes=50 * 1024**3)

    def of(self, tier: str) -> TierSettings:
        limits = getattr(self, tier, None)
        return limits if isinstance(limits, TierSettings) else self.free


def _default_prices() -> dict[str, float]:
    # Local models cost machine time; a CPU-second is priced like a small cloud VM's (about $0.04 an hour).
    return {"local-compute": 0.00001}


class Settings(BaseSettings):
    model_config = env_config("billing")

    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50051))
    postgres: PostgresSettings = PostgresSettings()
    otel: OtelSettings = OtelSettings()
    log_level: LogLevel = "INFO"
    tiers: Tiers = Tiers()
    prices: dict[str, float] = Field(default_factory=_default_prices, description="price per unit, by service")
    currency: str = "USD"
