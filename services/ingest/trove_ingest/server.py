"""gRPC adapter of the ingest service."""

from __future__ import annotations

import grpc

from trove_common.context import user_id_var
from trove_ingest.ingest import Ingest
from trove_ingest.models import Media
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc


def media_pb(media: Media) -> ingest_pb2.Media:
    return ingest_pb2.Media(
        media_id=media.media_id,
        filename=media.filename,
        content_type=media.content_type,
        kind=media.kind,
        size_bytes=media.size_bytes,
        status=media.status,
        error=media.error,
        created_at=media.created_at.isoformat(),
        updated_at=media.updated_at.isoformat(),
        storage_key=media.storage_key,
    )


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest

    async def CreateUpload(
        self, request: ingest_pb2.CreateUploadRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.CreateUploadResponse:
        ticket = await self._ingest.create_upload(
            user_id=user_id_var.get(),
            filename=request.filename,
            content_type=request.content_type,
            size_bytes=request.size_bytes,
        )
        return ingest_pb2.CreateUploadResponse(
            upload_id=ticket.upload_id,
            upload_url=ticket.url,
            method=ticket.method,
            headers=ticket.headers,
            expires_at=ticket.expires_at.isoformat(),
        )

    async def CompleteUpload(
        self, request: ingest_pb2.CompleteUploadRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Media:
        return media_pb(await self._ingest.complete_upload(user_id=user_id_var.get(), upload_id=request.upload_id))

    async def GetMedia(
        self, request: ingest_pb2.GetMediaRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Media:
        return media_pb(await self._ingest.get(user_id=user_id_var.get(), media_id=request.media_id))

    async def ListMedia(
        self, request: ingest_pb2.ListMediaRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListMediaResponse:
        page = await self._ingest.list(user_id=user_id_var.get(), limit=request.limit, cursor=request.cursor)
        return ingest_pb2.ListMediaResponse(items=[media_pb(m) for m in page.items], next_cursor=page.next_cursor)

    async def BatchGetMedia(
        self, request: ingest_pb2.BatchGetMediaRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.BatchGetMediaResponse:
        items = await self._ingest.get_many(user_id=user_id_var.get(), media_ids=list(request.media_ids))
        return ingest_pb2.BatchGetMediaResponse(items=[media_pb(m) for m in items])

    async def DeleteMedia(
        self, request: ingest_pb2.DeleteMediaRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.DeleteMediaResponse:
        await self._ingest.delete(user_id=user_id_var.get(), media_id=request.media_id)
        return ingest_pb2.DeleteMediaResponse()

    async def SetStatus(
        self, request: ingest_pb2.SetStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Media:
        media = await self._ingest.set_status(
            user_id=user_id_var.get(), media_id=request.media_id, status=request.status, error=request.error
        )
        return media_pb(media)

    async def CheckUploadWritable(
        self, request: ingest_pb2.CheckUploadWritableRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.CheckUploadWritableResponse:
        await self._ingest.check_writable(user_id=user_id_var.get(), storage_key=request.storage_key)
        return ingest_pb2.CheckUploadWritableResponse()
