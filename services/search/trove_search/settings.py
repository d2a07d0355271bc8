"""Search service settings, from TROVE_SEARCH_* environment variables."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

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
    env_config,
)


class PeopleSettings(BaseModel):
    """Grouping faces into people (TROVE_SEARCH_PEOPLE__*)."""

    max_distance: float = Field(
        default=0.6, gt=0, le=2, description="faces closer than this (Euclidean, dlib descriptors) are one person"
    )
    min_faces: int = Field(
        default=2, ge=1, le=100, description="faces a group of unassigned faces needs to be a person"
    )
    neighbours: int = Field(default=5, ge=1, le=100, description="a person's nearest faces a new face is compared with")
    max_pass_faces: int = Field(
        default=5000, ge=10, le=100_000, description="unassigned faces one density pass groups (the newest)"
    )


class Settings(BaseSettings):
    model_config = env_config("search")

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    grpc: GrpcServerSettings = Field(default_factory=lambda: GrpcServerSettings(port=50054))
    postgres: PostgresSettings = PostgresSettings()
    redis: RedisSettings = RedisSettings()
    otel: OtelSettings = OtelSettings()
    metrics: MetricsSettings = MetricsSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    image_text: ImageTextSettings = ImageTextSettings()
    log_level: LogLevel = "INFO"
    ingest_addr: GrpcAddress = "127.0.0.1:50052"
    model_threads: int = Field(default=2, ge=1, le=32, description="threads running the query embedder")
    torch_threads: int = Field(default=1, ge=1, le=64, description="torch intra-op threads per inference")
    hnsw_ef_search: int = Field(default=100, ge=10, le=1000)
    cache_ttl_s: int = Field(default=300, ge=1, description="how long query embeddings and result lists are kept")
    cache_timeout_s: float = Field(
        default=0.5, gt=0, le=10, description="a Redis cache call slower than this (or failing) is a miss"
    )
    people: PeopleSettings = Field(default_factory=PeopleSettings)
    reindex_batch: int = Field(default=64, ge=1, le=1024, description="segments a re-index embeds per transaction")
    reindex_pause_s: float = Field(
        default=0.0, ge=0, le=60, description="pause between re-index batches, leaving CPU to searches and uploads"
    )
