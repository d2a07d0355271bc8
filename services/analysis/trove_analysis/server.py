"""gRPC adapter of the analysis service: what the pipeline saw in a media file."""

from __future__ import annotations

import grpc
from google.protobuf import struct_pb2

from trove_analysis.views import Analyses, details
from trove_common.context import user_id_var
from trove_protos.analysis.v1 import analysis_pb2, analysis_pb2_grpc


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, analyses: Analyses) -> None:
        self._analyses = analyses

    async def GetAnalysis(
        self, request: analysis_pb2.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.Analysis:
        stages = await self._analyses.get(user_id=user_id_var.get(), media_id=request.media_id)
        view = details(stages)
        response = analysis_pb2.Analysis(media_id=request.media_id)
        response.stages.extend(
            analysis_pb2.StageResult(
                stage=s.stage, provider=s.provider, status=s.status, error=s.error, finished_at=s.finished_at
            )
            for s in stages
        )
        picture = view.get("picture") or (view.get("scenes") or [{}])[0]
        response.labels.extend(analysis_pb2.Label(name=x["name"], score=x["score"]) for x in picture.get("labels", []))
        response.description = picture.get("description", "")
        struct = struct_pb2.Struct()
        struct.update(view)
        response.details.CopyFrom(struct)
        return response

    async def DeleteAnalysis(
        self, request: analysis_pb2.DeleteAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DeleteAnalysisResponse:
        await self._analyses.delete(user_id=user_id_var.get(), media_id=request.media_id)
        return analysis_pb2.DeleteAnalysisResponse()
