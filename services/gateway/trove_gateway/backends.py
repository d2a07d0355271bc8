"""gRPC channels and stubs of the services behind the gateway."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from trove_common.grpc_client import ServiceCredential, make_channel
from trove_gateway.settings import Settings
from trove_protos.analysis.v1 import analysis_pb2_grpc
from trove_protos.billing.v1 import billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2_grpc


@dataclass
class Backends:
    billing: billing_pb2_grpc.BillingServiceStub
    ingest: ingest_pb2_grpc.IngestServiceStub
    analysis: analysis_pb2_grpc.AnalysisServiceStub
    search: search_pb2_grpc.SearchServiceStub
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @classmethod
    def connect(cls, settings: Settings) -> Backends:
        credential = ServiceCredential.of("gateway", settings.service_auth)
        channels = {
            "billing": make_channel(settings.billing_addr, credential=credential),
            "ingest": make_channel(settings.ingest_addr, credential=credential),
            "analysis": make_channel(settings.analysis_addr, credential=credential),
            "search": make_channel(settings.search_addr, credential=credential, default_timeout_s=30),
        }
        return cls(
            billing=billing_pb2_grpc.BillingServiceStub(channels["billing"]),
            ingest=ingest_pb2_grpc.IngestServiceStub(channels["ingest"]),
            analysis=analysis_pb2_grpc.AnalysisServiceStub(channels["analysis"]),
            search=search_pb2_grpc.SearchServiceStub(channels["search"]),
            channels=channels,
        )

    async def health(self) -> dict[str, str]:
        """Each backend's gRPC health status (SERVING, NOT_SERVING, or the error that prevented an answer)."""

        async def check(channel: grpc.aio.Channel) -> str:
            try:
                response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
            except Exception as exc:  # any failure to answer means not ready
                return f"unavailable: {type(exc).__name__}"
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

        names = list(self.channels)
        statuses = await asyncio.gather(*(check(self.channels[n]) for n in names))
        return dict(zip(names, statuses, strict=True))

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
