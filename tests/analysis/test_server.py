"""AnalysisService through a real channel: what the worker saw in an uploaded photo."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import grpc
from support import DEV_MEDIA, Api, as_user

from trove_protos.analysis.v1 import analysis_pb2, analysis_pb2_grpc
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc

Connect = Callable[[str], grpc.aio.Channel]


async def test_stage_results_of_an_analysed_photo(grpc_channel: Connect, new_api: Callable[[], Awaitable[Api]]) -> None:
    api = await new_api()
    media_id = await api.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    users = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    user_id = (await users.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=api.firebase_uid))).user.user_id

    stub = analysis_pb2_grpc.AnalysisServiceStub(grpc_channel("analysis"))
    seen = await stub.GetAnalysis(analysis_pb2.GetAnalysisRequest(media_id=media_id), metadata=as_user(user_id))
    assert seen.labels[0].name.startswith("espresso")
    assert "espresso" in seen.description
    assert {(s.stage, s.status) for s in seen.stages} >= {
        ("probe", "succeeded"),
        ("image", "succeeded"),
        ("embedding", "succeeded"),
    }
    assert seen.details["probe"]["kind"] == "image"

    stranger = as_user(str(uuid.uuid4()))
    assert not (await stub.GetAnalysis(analysis_pb2.GetAnalysisRequest(media_id=media_id), metadata=stranger)).stages
    await stub.DeleteAnalysis(analysis_pb2.DeleteAnalysisRequest(media_id=media_id), metadata=as_user(user_id))
    assert not (
        await stub.GetAnalysis(analysis_pb2.GetAnalysisRequest(media_id=media_id), metadata=as_user(user_id))
    ).stages
