"""Analysis service settings (gRPC server and ARQ worker), from TROVE_ANALYSIS_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from trove_analysis.aws.settings import AwsSettings
from trove_analysis.provider_choice import check_choices
from trove_analysis.queues import Family
from trove_common.settings import (
    EmbedderSettings,
    GrpcAddress,
    GrpcServerSettings,
    ImageTextSettings,
    LogLevel,
    MetricsSettings,
    OtelSettings,
    PostgresSettings,
    RedisSettings,
    ServiceAuthSettings,
    StorageSettings,
    env_config,
)


class FamilyConcurrency(BaseModel):
    """Jobs each stage family's pool runs at once in one worker process."""

    image: int = Field(default=3, ge=1, le=64)
    video: int = Field(default=2, ge=1, le=64)
    text: int = Field(default=5, ge=1, le=64)
    embedding: int = Field(default=4, ge=1, le=64)


class Settings(BaseSettings):
    model_config = env_config("analysis")

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50053))
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
    metrics: MetricsSettings = MetricsSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    image_text: ImageTextSettings = ImageTextSettings()
    aws: AwsSettings = AwsSettings()
    log_level: LogLevel = "INFO"
    ingest_addr: GrpcAddress = "127.0.0.1:50052"
    search_addr: GrpcAddress = "127.0.0.1:50054"
    billing_addr: GrpcAddress = "127.0.0.1:50051"
    families: list[Family] = Field(
        default=["image", "video", "text", "embedding"],
        min_length=1,
        description="stage families (queues) this worker process serves; split them across processes to scale",
    )
    concurrency: FamilyConcurrency = FamilyConcurrency()
    model_threads: int = Field(default=2, ge=1, le=64, description="threads running model inference")
    torch_threads: int = Field(default=1, ge=1, le=64, description="torch intra-op threads per inference")
    job_timeout_s: int = Field(default=1800, ge=10)
    max_tries: int = Field(default=5, ge=1, le=50, description="tries of a stage before it goes to dead letters")
    max_tries_per_stage: dict[str, int] = Field(default={}, description='e.g. {"transcription": 3}')
    stage_timeout_s: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="a try of a stage running longer is stopped (the worker recycles) and counts as a try",
    )
    stage_timeouts_s: dict[str, float] = Field(default={}, description='per stage, e.g. {"transcription": 1500}')
    retry_backoff_s: float = Field(default=5.0, gt=0, le=3600, description="wait before the 2nd try; doubles")
    retry_backoff_max_s: float = Field(default=600.0, gt=0, le=86400)
    lease_s: float = Field(
        default=30.0, ge=3, le=3600, description="a job whose worker vanished (SIGKILL) runs again after this"
    )
    shutdown_grace_s: int = Field(default=20, ge=0, le=3600, description="on SIGTERM, running jobs get this long")
    poll_delay_s: float = Field(default=0.2, gt=0, le=10, description="how often an idle family pool reads its queue")
    max_image_pixels: int = Field(default=100_000_000, ge=1_000_000, description="larger images are refused")
    max_video_pixels: int = Field(
        default=8_294_400, ge=100_000, description="videos with larger frames (beyond 4K UHD) are refused, undecoded"
    )
    max_pdf_pages: int = Field(default=200, ge=1, description="pages read per PDF; the rest are skipped")
    model_dir: Path = Field(
        default=Path.home() / ".cache" / "trove" / "models",
        description="model folders assembled at install time by scripts/models.sh (whisper-base/)",
    )
    object_cache_dir: Path = Field(
        default=Path(".trove/object-cache"),
        description="s3 backend: where workers keep downloaded originals for the models to read (private, 0700)",
    )
    object_cache_bytes: int = Field(default=4 * 1024**3, ge=0, description="s3 backend: the cache's size bound")
    object_cache_max_age_s: float = Field(default=3600, gt=0, description="s3 backend: unused files go after this")
    wordnet_dir: Path = Field(default=Path("/usr/share/wordnet"), description="WordNet 3.0 (Debian's wordnet-base)")
    providers: dict[str, str] = Field(
        default={},
        description="the provider of each stage, e.g. TROVE_ANALYSIS_PROVIDERS__IMAGE=local; unset stages use local",
    )

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: dict[str, str]) -> dict[str, str]:
        check_choices(value)
        return value

    @model_validator(mode="after")
    def _one_embedder_choice(self) -> Settings:
        # Search embeds queries with its own EmbedderSettings, so the embedder has one switch that both share.
        chosen = self.providers.get("embedding", self.embedder.provider)
        if chosen != self.embedder.provider:
            raise ValueError(
                f"TROVE_ANALYSIS_PROVIDERS__EMBEDDING={chosen} but TROVE_ANALYSIS_EMBEDDER__PROVIDER="
                f"{self.embedder.provider}: the embedder is chosen by TROVE_<SVC>_EMBEDDER__PROVIDER (search uses the "
                "same; `make run`: TROVE_EMBEDDER_PROVIDER); leave PROVIDERS__EMBEDDING unset or equal to it"
            )
        return self
