"""gRPC adapter of the analysis service: what the pipeline saw in a media file."""

from __future__ import annotations

import grpc
from google.protobuf import struct_pb2

from trove_analysis import describe
from trove_analysis.dead_letters import DeadLetters
from trove_analysis.models import DeadLetter, StageJob
from trove_analysis.views import Analyses, analysed, details, headline, progress
from trove_common.context import user_id_var
from trove_protos.analysis.v1 import analysis_pb2, analysis_pb2_grpc


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, analyses: Analyses, dead_letters: DeadLetters) -> None:
        self._analyses = analyses
        self._dead_letters = dead_letters

    async def GetAnalysis(
        self, request: analysis_pb2.GetAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.Analysis:
        stages, jobs = await self._analyses.get(user_id=user_id_var.get(), media_id=request.media_id)
        found = analysed(stages)
        response = analysis_pb2.Analysis(media_id=request.media_id)
        response.stages.extend(
            analysis_pb2.StageResult(
                stage=s.stage, provider=s.provider, status=s.status, error=s.error, finished_at=s.finished_at
            )
            for s in stages
        )
        if (picture := headline(found)) is not None:
            response.labels.extend(analysis_pb2.Label(name=x.name, score=x.score) for x in picture.labels)
            response.description = describe.picture_text(picture)
        struct = struct_pb2.Struct()
        struct.update(details(found))
        response.details.CopyFrom(struct)
        response.progress.CopyFrom(_progress(jobs))
        return response

    async def DeleteAnalysis(
        self, request: analysis_pb2.DeleteAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DeleteAnalysisResponse:
        await self._analyses.delete(user_id=user_id_var.get(), media_id=request.media_id)
        return analysis_pb2.DeleteAnalysisResponse()

    async def ListDeadLetters(
        self, request: analysis_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DeadLetterList:
        letters = await self._dead_letters.list(limit=request.limit)
        return analysis_pb2.DeadLetterList(items=[_dead_letter(x) for x in letters])

    async def RequeueDeadLetter(
        self, request: analysis_pb2.RequeueDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.DeadLetter:
        return _dead_letter(await self._dead_letters.requeue(dead_letter_id=request.dead_letter_id))


def _progress(jobs: list[StageJob]) -> analysis_pb2.Progress:
    summary = progress(jobs)
    return analysis_pb2.Progress(
        done=summary["done"],
        total=summary["total"],
        current_stage=summary["current_stage"],
        attempts=summary["attempts"],
        stages=[
            analysis_pb2.StageProgress(
                stage=j.stage,
                status=j.status,
                attempts=j.attempts,
                last_error=j.last_error,
                cost_s=j.cost_s,
                started_at=j.started_at,
                finished_at=j.finished_at,
            )
            for j in jobs
        ],
    )


def _dead_letter(letter: DeadLetter) -> analysis_pb2.DeadLetter:
    return analysis_pb2.DeadLetter(
        dead_letter_id=letter.dead_letter_id,
        media_id=letter.media_id,
        user_id=letter.user_id,
        stage=letter.stage,
        errors=[analysis_pb2.JobError(error=str(e.get("error", "")), at=str(e.get("at", ""))) for e in letter.errors],
        created_at=letter.created_at,
        requeued_at=letter.requeued_at,
    )
