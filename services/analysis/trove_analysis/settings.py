"""Analysis service settings (gRPC server and ARQ worker), from TROVE_ANALYSIS_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from trove_common.settings import (
    EmbedderSettings,
    GrpcAddress,
    GrpcServerSettings,
    LogLevel,
    OtelSettings,
    PostgresSettings,
    RedisSettings,
    StorageSettings,
    env_config,
)


class Settings(BaseSettings):
    model_config = env_config("analysis")

    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50053))
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    log_level: LogLevel = "INFO"
    ingest_addr: GrpcAddress = "127.0.0.1:50052"
    search_addr: GrpcAddress = "127.0.0.1:50054"
    billing_addr: GrpcAddress = "127.0.0.1:50051"
    worker_concurrency: int = Field(default=2, ge=1, le=64, description="jobs one worker process runs at once")
    model_threads: int = Field(default=2, ge=1, le=64, description="threads running model inference")
    torch_threads: int = Field(default=1, ge=1, le=64, description="torch intra-op threads per inference")
    job_timeout_s: int = Field(default=1800, ge=10)
    max_tries: int = Field(default=5, ge=1, le=50)
    max_image_pixels: int = Field(default=100_000_000, ge=1_000_000, description="larger images are refused")
    max_pdf_pages: int = Field(default=200, ge=1, description="pages read per PDF; the rest are skipped")
    model_dir: Path = Field(
        default=Path.home() / ".cache" / "trove" / "models",
        description="model folders assembled at install time by scripts/models.sh (whisper-base/)",
    )
    wordnet_dir: Path = Field(default=Path("/usr/share/wordnet"), description="WordNet 3.0 (Debian's wordnet-base)")
