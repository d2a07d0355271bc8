"""IngestService through a real channel to the running ingest server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import httpx
import pytest
from support import DEV_MEDIA, as_user, billing_user

from trove_common.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc

Connect = Callable[[str], grpc.aio.Channel]


async def test_upload_lifecycle(grpc_channel: Connect) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    user = as_user(await billing_user(grpc_channel("billing")))
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = await stub.CreateUpload(
        ingest_pb2.CreateUploadRequest(filename="grass.png", content_type="image/png", size_bytes=len(data)),
        metadata=user,
    )
    assert ticket.method == "PUT" and ticket.headers["Content-Type"] == "image/png"
    with pytest.raises(ConflictError):
        await stub.CompleteUpload(ingest_pb2.CompleteUploadRequest(upload_id=ticket.upload_id), metadata=user)
    async with httpx.AsyncClient() as client:
        put = await client.put(ticket.upload_url, content=data, headers=dict(ticket.headers))
    assert put.status_code == 200
    media = await stub.CompleteUpload(ingest_pb2.CompleteUploadRequest(upload_id=ticket.upload_id), metadata=user)
    assert media.kind == "image" and media.size_bytes == len(data) and media.filename == "grass.png"

    updated = await stub.SetStatus(
        ingest_pb2.SetStatusRequest(media_id=media.media_id, status="failed", error="test reason"), metadata=user
    )
    assert updated.status == "failed" and updated.error == "test reason"
    batch = await stub.BatchGetMedia(
        ingest_pb2.BatchGetMediaRequest(media_ids=[media.media_id, str(uuid.uuid4()), "junk"]), metadata=user
    )
    assert [m.media_id for m in batch.items] == [media.media_id]

    stranger = as_user(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        await stub.GetMedia(ingest_pb2.GetMediaRequest(media_id=media.media_id), metadata=stranger)
    assert not (
        await stub.BatchGetMedia(ingest_pb2.BatchGetMediaRequest(media_ids=[media.media_id]), metadata=stranger)
    ).items
    await stub.DeleteMedia(ingest_pb2.DeleteMediaRequest(media_id=media.media_id), metadata=user)
    with pytest.raises(NotFoundError):
        await stub.GetMedia(ingest_pb2.GetMediaRequest(media_id=media.media_id), metadata=user)


async def test_validation_errors_arrive_typed(grpc_channel: Connect) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    user = as_user(await billing_user(grpc_channel("billing")))
    cases: list[tuple[ingest_pb2.CreateUploadRequest, type[Exception]]] = [
        (
            ingest_pb2.CreateUploadRequest(filename="a.exe", content_type="application/x-msdownload", size_bytes=1),
            UnsupportedMediaTypeError,
        ),
        (
            ingest_pb2.CreateUploadRequest(filename="a.mp4", content_type="video/mp4", size_bytes=10**14),
            PayloadTooLargeError,
        ),
        (
            ingest_pb2.CreateUploadRequest(filename="a.png", content_type="image/png", size_bytes=0),
            InvalidArgumentError,
        ),
        (ingest_pb2.CreateUploadRequest(filename="", content_type="image/png", size_bytes=5), InvalidArgumentError),
    ]
    for request, error in cases:
        with pytest.raises(error):
            await stub.CreateUpload(request, metadata=user)
    with pytest.raises(InvalidArgumentError, match="cursor"):
        await stub.ListMedia(ingest_pb2.ListMediaRequest(limit=10, cursor="not!a!cursor"), metadata=user)
    with pytest.raises(InvalidArgumentError, match="limit"):
        await stub.ListMedia(ingest_pb2.ListMediaRequest(limit=0), metadata=user)
    with pytest.raises(NotFoundError):
        await stub.CompleteUpload(ingest_pb2.CompleteUploadRequest(upload_id=str(uuid.uuid4())), metadata=user)
    with pytest.raises(InvalidArgumentError, match="status"):
        await stub.SetStatus(ingest_pb2.SetStatusRequest(media_id=str(uuid.uuid4()), status="done"), metadata=user)
