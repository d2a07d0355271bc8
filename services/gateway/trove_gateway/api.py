"""REST handlers of /api/v1: each checks the caller, calls the services over gRPC and shapes the JSON."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from trove_common.blobstore import thumbnail_key
from trove_common.context import user_id_var
from trove_common.errors import NotFoundError, PermissionDeniedError
from trove_gateway.bodies import CreateUploadBody, int_param, parse_body
from trove_gateway.rate_limit import family_of
from trove_gateway.state import GatewayState
from trove_protos.analysis.v1 import analysis_pb2
from trove_protos.ingest.v1 import ingest_pb2
from trove_protos.search.v1 import search_pb2


async def signed_in(request: Request, *, admin: bool = False) -> GatewayState:
    """Verify the caller's Firebase token, resolve their Trove user id into the request context, and take a token
    from the user's rate-limit bucket of the route's family.

    Args:
        admin: the route is for administrators only (the `admin` custom claim on the token).
    """
    state: GatewayState = request.app.state.gateway
    identity = await state.verifier.verify(request)
    if admin and not identity.admin:
        raise PermissionDeniedError("this route is for administrators (the 'admin' claim on the Firebase token)")
    account = await state.users.account(identity)
    user_id_var.set(account.user_id)
    if (family := family_of(request.url.path)) is not None:
        await state.limiter.take(scope="user", key=account.user_id, family=family, tier=account.tier)
    return state


def media_json(media: ingest_pb2.Media) -> dict[str, Any]:
    return {
        "media_id": media.media_id,
        "filename": media.filename,
        "content_type": media.content_type,
        "kind": media.kind,
        "size_bytes": media.size_bytes,
        "status": media.status,
        "error": media.error,
        "created_at": media.created_at,
        "updated_at": media.updated_at,
    }


def analysis_json(analysis: analysis_pb2.Analysis) -> dict[str, Any]:
    return {
        "labels": [{"name": x.name, "score": round(x.score, 4)} for x in analysis.labels],
        "description": analysis.description,
        **json_format.MessageToDict(analysis.details),
        "progress": {
            "done": analysis.progress.done,
            "total": analysis.progress.total,
            "current_stage": analysis.progress.current_stage,
            "attempts": analysis.progress.attempts,
            "stages": [
                {"stage": j.stage, "status": j.status, "attempts": j.attempts, "last_error": j.last_error}
                for j in analysis.progress.stages
            ],
        },
        "stages": [
            {
                "stage": s.stage,
                "provider": s.provider,
                "status": s.status,
                "error": s.error,
                "finished_at": s.finished_at,
            }
            for s in analysis.stages
        ],
    }


async def create_upload(request: Request) -> Response:
    state = await signed_in(request)
    body = await parse_body(request, CreateUploadBody)
    ticket = await state.backends.ingest.CreateUpload(
        ingest_pb2.CreateUploadRequest(
            filename=body.filename, content_type=body.content_type, size_bytes=body.size_bytes
        )
    )
    return JSONResponse(
        {
            "upload_id": ticket.upload_id,
            "upload_url": ticket.upload_url,
            "method": ticket.method,
            "headers": dict(ticket.headers),
            "expires_at": ticket.expires_at,
        },
        status_code=201,
    )


async def complete_upload(request: Request) -> Response:
    state = await signed_in(request)
    media = await state.backends.ingest.CompleteUpload(
        ingest_pb2.CompleteUploadRequest(upload_id=request.path_params["upload_id"])
    )
    return JSONResponse({"media_id": media.media_id, "status": media.status}, status_code=202)


async def list_media(request: Request) -> Response:
    state = await signed_in(request)
    page = await state.backends.ingest.ListMedia(
        ingest_pb2.ListMediaRequest(
            limit=int_param(request.query_params, "limit", default=50), cursor=request.query_params.get("cursor", "")
        )
    )
    return JSONResponse({"items": [media_json(m) for m in page.items], "next_cursor": page.next_cursor or None})


async def get_media(request: Request) -> Response:
    state = await signed_in(request)
    media_id = request.path_params["media_id"]
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=media_id))
    analysis = await state.backends.analysis.GetAnalysis(analysis_pb2.GetAnalysisRequest(media_id=media.media_id))
    return JSONResponse({**media_json(media), "analysis": analysis_json(analysis)})


async def thumbnail(request: Request) -> Response:
    """The media's thumbnail (a video's poster, a document's first page) as JPEG; 404 until analysis made one."""
    state = await signed_in(request)
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    path = state.store.path(thumbnail_key(media.storage_key))
    if not await asyncio.to_thread(path.is_file):
        raise NotFoundError("this media has no thumbnail (yet)")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


async def content(request: Request) -> Response:
    """The original file's bytes, with Range support (FileResponse answers 206 for `Range:`)."""
    state = await signed_in(request)
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    path = state.store.path(media.storage_key)
    if not await asyncio.to_thread(path.is_file):
        raise NotFoundError("the file's bytes are gone")
    return FileResponse(
        path,
        media_type=media.content_type,
        filename=media.filename,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )


async def content_url(request: Request) -> Response:
    """A short-lived signed GET URL of the original, for <video> and <audio> elements (which cannot send headers)."""
    state = await signed_in(request)
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    ttl_s: int = request.app.state.settings.storage.url_ttl_s
    signed = state.store.sign(key=media.storage_key, method="GET", ttl_s=ttl_s)
    expires_at = datetime.fromtimestamp(signed.expires_at, UTC).isoformat()
    return JSONResponse({"url": signed.url, "expires_at": expires_at}, headers={"Cache-Control": "no-store"})


async def delete_media(request: Request) -> Response:
    state = await signed_in(request)
    media_id = request.path_params["media_id"]
    await state.backends.ingest.DeleteMedia(ingest_pb2.DeleteMediaRequest(media_id=media_id))
    # The media record is gone, so search already hides its segments; these remove the leftovers.
    await asyncio.gather(
        state.backends.search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id)),
        state.backends.analysis.DeleteAnalysis(analysis_pb2.DeleteAnalysisRequest(media_id=media_id)),
    )
    return Response(status_code=204)


ROUTES = [
    Route("/api/v1/uploads", create_upload, methods=["POST"]),
    Route("/api/v1/uploads/{upload_id}/complete", complete_upload, methods=["POST"]),
    Route("/api/v1/media", list_media, methods=["GET"]),
    Route("/api/v1/media/{media_id}", get_media, methods=["GET"]),
    Route("/api/v1/media/{media_id}/thumbnail", thumbnail, methods=["GET"]),
    Route("/api/v1/media/{media_id}/content", content, methods=["GET"]),
    Route("/api/v1/media/{media_id}/content-url", content_url, methods=["GET"]),
    Route("/api/v1/media/{media_id}", delete_media, methods=["DELETE"]),
]
