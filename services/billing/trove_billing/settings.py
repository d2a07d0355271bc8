"""Billing service settings, from TROVE_BILLING_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from trove_common.settings import GrpcServerSettings, LogLevel, OtelSettings, PostgresSettings, env_config


class Settings(BaseSettings):
    model_config = env_config("billing")

    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50051))
    postgres: PostgresSettings = PostgresSettings()
    otel: OtelSettings = OtelSettings()
    log_level: LogLevel = "INFO"
