"""Ingest service settings, from TROVE_INGEST_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from trove_common.settings import (
    GrpcAddress,
    GrpcServerSettings,
    LogLevel,
    MetricsSettings,
    OtelSettings,
    PostgresSettings,
    RedisSettings,
    ServiceAuthSettings,
    StorageSettings,
    env_config,
)


class Settings(BaseSettings):
    model_config = env_config("ingest")

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50052))
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
    metrics: MetricsSettings = MetricsSettings()
    log_level: LogLevel = "INFO"
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0, description="largest file accepted, in bytes")
    billing_addr: GrpcAddress = "127.0.0.1:50051"
    budget_recheck_s: float = Field(
        default=60, gt=0, le=86400, description="how often media waiting for budget is checked for resumption"
    )
    requeue_stale_s: float = Field(
        default=300,
        gt=0,
        le=86400,
        description="media queued this long is queued again (its job was lost, e.g. Redis killed); a job still "
        "waiting in Redis is not duplicated",
    )
    sweep_every_s: float = Field(
        default=300, gt=0, le=86400, description="how often abandoned uploads and orphaned files are swept"
    )
    abandoned_upload_grace_s: float = Field(
        default=3600,
        ge=0,
        le=30 * 86400,
        description="how long after its URL expired an upload never completed is kept before it and its bytes go",
    )
