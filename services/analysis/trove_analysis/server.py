"""gRPC adapter of the analysis service: what the pipeline saw in a media file."""

from __future__ import annotations

import grpc

from trove_analysis.pipeline import Analyses
from trove_common.context import user_id_var
from trove_protos.analysis.v1 import analysis_pb2, analysis_pb2_grpc


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, analyses: Analyses) -> None:
        self._analyses = analyses

    async def GetAnalysis(
        self, request: analysis_pb2.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.Analysis:
        stages = await self._analyses.get(user_id=user_id_var.get(), media_id=request.media_id)
        response = analysis_pb2.Analysis(media_id=request.media_id)
        for stage in stages:
            response.stages.append(
                analysis_pb2.StageResult(
                    stage=stage.stage,
                    provider=stage.provider,
                    status=stage.status,
                    error=stage.error,
                    finished_at=stage.finished_at,
                )
            )
            if stage.stage == "image" and stage.status == "succeeded":
                labels = stage.result.get("labels", [])
                assert isinstance(labels, list)
                response.labels.extend(
                    analysis_pb2.Label(name=str(x["name"]), wnid=str(x["wnid"]), score=float(x["score"]))
                    for x in labels
                )
                response.description = str(stage.result.get("description", ""))
        return response

    async def DeleteAnalysis(
        self, request: analysis_pb2.DeleteAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DeleteAnalysisResponse:
        await self._analyses.delete(user_id=user_id_var.get(), media_id=request.media_id)
        return analysis_pb2.DeleteAnalysisResponse()
