"""REST handlers of /api/v1: each checks the caller, calls the services over gRPC and shapes the JSON."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from trove_common.blobstore import frame_key, thumbnail_key
from trove_common.context import user_id_var
from trove_common.errors import NotFoundError, PermissionDeniedError
from trove_gateway import responses as out
from trove_gateway.bodies import CreateUploadBody, PageQuery, parse_body, parse_query
from trove_gateway.bucket import bucket_content
from trove_gateway.openapi import ApiRoute, Link, Operation
from trove_gateway.rate_limit import family_of
from trove_gateway.state import GatewayState
from trove_protos.analysis.v1 import analysis_pb2
from trove_protos.ingest.v1 import ingest_pb2
from trove_protos.search.v1 import search_pb2


async def signed_in(request: Request, *, admin: bool = False) -> GatewayState:
    """Verify the caller's ID token, resolve their Trove user id into the request context, and take a token
    from the user's rate-limit bucket of the route's family.

    Args:
        admin: the route is for administrators only (the admin role of the identity mode).
    """
    state: GatewayState = request.app.state.gateway
    identity = await state.auth.identify(request)
    if admin and not identity.admin:
        raise PermissionDeniedError("this route is for administrators")
    account = await state.users.account(identity)
    user_id_var.set(account.user_id)
    if (family := family_of(request.url.path)) is not None:
        await state.limiter.take(scope="user", key=account.user_id, family=family, tier=account.tier)
    return state


def media_out(media: ingest_pb2.Media) -> out.Media:
    return out.Media(
        media_id=media.media_id,
        filename=media.filename,
        content_type=media.content_type,
        kind=media.kind,
        size_bytes=media.size_bytes,
        status=media.status,
        error=media.error,
        created_at=media.created_at,
        updated_at=media.updated_at,
    )


def analysis_out(analysis: analysis_pb2.Analysis) -> out.Analysis:
    # What the stages found (probe, picture, transcript, ...) comes first, so the fixed fields always win.
    return out.Analysis.model_validate(
        {
            **json_format.MessageToDict(analysis.details),
            "labels": [out.Label(name=x.name, score=round(x.score, 4)) for x in analysis.labels],
            "description": analysis.description,
            "progress": out.Progress(
                done=analysis.progress.done,
                total=analysis.progress.total,
                current_stage=analysis.progress.current_stage,
                attempts=analysis.progress.attempts,
                stages=[
                    out.StageProgress(stage=j.stage, status=j.status, attempts=j.attempts, last_error=j.last_error)
                    for j in analysis.progress.stages
                ],
            ),
            "stages": [
                out.StageResult(
                    stage=s.stage, provider=s.provider, status=s.status, error=s.error, finished_at=s.finished_at
                )
                for s in analysis.stages
            ],
        }
    )


async def create_upload(request: Request) -> Response:
    state = await signed_in(request)
    body = await parse_body(request, CreateUploadBody)
    ticket = await state.backends.ingest.CreateUpload(
        ingest_pb2.CreateUploadRequest(
            filename=body.filename, content_type=body.content_type, size_bytes=body.size_bytes
        )
    )
    return out.respond(
        out.UploadTicket(
            upload_id=ticket.upload_id,
            upload_url=ticket.upload_url,
            method=ticket.method,
            headers=dict(ticket.headers),
            expires_at=ticket.expires_at,
        ),
        status_code=201,
    )


async def complete_upload(request: Request) -> Response:
    state = await signed_in(request)
    media = await state.backends.ingest.CompleteUpload(
        ingest_pb2.CompleteUploadRequest(upload_id=request.path_params["upload_id"])
    )
    return out.respond(out.Completed(media_id=media.media_id, status=media.status), status_code=202)


async def list_media(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, PageQuery)
    page = await state.backends.ingest.ListMedia(ingest_pb2.ListMediaRequest(limit=query.limit, cursor=query.cursor))
    return out.respond(out.MediaPage(items=[media_out(m) for m in page.items], next_cursor=page.next_cursor or None))


async def get_media(request: Request) -> Response:
    state = await signed_in(request)
    media_id = request.path_params["media_id"]
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=media_id))
    analysis = await state.backends.analysis.GetAnalysis(analysis_pb2.GetAnalysisRequest(media_id=media.media_id))
    return out.respond(out.MediaDetail(**media_out(media).model_dump(), analysis=analysis_out(analysis)))


async def thumbnail(request: Request) -> Response:
    """The media's thumbnail (a video's poster, a document's first page) as JPEG; 404 until analysis made one."""
    state = await signed_in(request)
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    return await _derived_jpeg(state, thumbnail_key(media.storage_key), missing="this media has no thumbnail (yet)")


_FRAME_NUMBER = re.compile(r"[1-9][0-9]{0,5}", re.ASCII)


async def frame(request: Request) -> Response:
    """A video scene's keyframe picture as JPEG (a search moment's `frame_url`); 404 when there is none."""
    state = await signed_in(request)
    number = request.path_params["frame"]
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    if not _FRAME_NUMBER.fullmatch(number):
        raise NotFoundError("no such frame")
    return await _derived_jpeg(state, frame_key(media.storage_key, int(number)), missing="this media has no such frame")


async def _derived_jpeg(state: GatewayState, key: str, *, missing: str) -> Response:
    """A JPEG derived from a media file (thumbnail, scene keyframe), from local files or the bucket."""
    headers = {"Cache-Control": "private, max-age=3600"}
    if state.blobs is None:
        data = await state.storage.read(key)
        if data is None:
            raise NotFoundError(missing)
        return Response(data, media_type="image/jpeg", headers=headers)
    path = state.blobs.path(key)
    if not await asyncio.to_thread(path.is_file):
        raise NotFoundError(missing)
    return FileResponse(path, media_type="image/jpeg", headers=headers)


async def content(request: Request) -> Response:
    """The original file's bytes, with Range support (FileResponse answers 206 for `Range:`)."""
    state = await signed_in(request)
    media = await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=request.path_params["media_id"]))
    if state.blobs is None:
        return await bucket_content(state.storage, media, range_header=request.headers.get("range"))
    path = state.blobs.path(media.storage_key)
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
    signed = await state.storage.sign_get(key=media.storage_key, ttl_s=ttl_s)
    expires_at = datetime.fromtimestamp(signed.expires_at, UTC).isoformat()
    return out.respond(out.ContentUrl(url=signed.url, expires_at=expires_at), headers={"Cache-Control": "no-store"})


async def delete_media(request: Request) -> Response:
    state = await signed_in(request)
    media_id = request.path_params["media_id"]
    await state.backends.ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=media_id))  # the caller's, or 404
    # Search first: it decides what results show, and it remembers the file as deleted, so an analysis still
    # running cannot index it again. Should a later call fail, the file is listed but never found; deleting it
    # again finishes the job (search's delete is idempotent).
    await state.backends.search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id))
    await state.backends.ingest.DeleteMedia(ingest_pb2.DeleteMediaRequest(media_id=media_id))
    await state.backends.analysis.DeleteAnalysis(analysis_pb2.DeleteAnalysisRequest(media_id=media_id))
    return Response(status_code=204)


_MEDIA_ERRORS = (404,)
_BY_MEDIA_ID = {"media_id": "$response.body#/media_id"}

ROUTES = [
    ApiRoute(
        "/api/v1/uploads",
        create_upload,
        method="POST",
        operation=Operation(
            operation_id="createUpload",
            summary="Start an upload: a signed URL to PUT the file's bytes to",
            tag="uploads",
            status=201,
            body=CreateUploadBody,
            response=out.UploadTicket,
            errors=(402, 413, 415),
            links={"complete": Link("completeUpload", {"upload_id": "$response.body#/upload_id"})},
        ),
    ),
    ApiRoute(
        "/api/v1/uploads/{upload_id}/complete",
        complete_upload,
        method="POST",
        operation=Operation(
            operation_id="completeUpload",
            summary="Finish an upload once its bytes are stored: the media file, queued for analysis",
            tag="uploads",
            status=202,
            response=out.Completed,
            errors=(402, 404, 409, 413, 415, 422),
            links={
                "get": Link("getMedia", _BY_MEDIA_ID),
                "similar": Link("similarMedia", _BY_MEDIA_ID),
                "delete": Link("deleteMedia", _BY_MEDIA_ID),
            },
        ),
    ),
    ApiRoute(
        "/api/v1/media",
        list_media,
        method="GET",
        operation=Operation(
            operation_id="listMedia",
            summary="The caller's media files, newest first",
            tag="media",
            query=PageQuery,
            response=out.MediaPage,
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}",
        get_media,
        method="GET",
        operation=Operation(
            operation_id="getMedia",
            summary="A media file and what analysis saw in it",
            tag="media",
            response=out.MediaDetail,
            errors=_MEDIA_ERRORS,
            links={
                "search": Link("search", {"q": "$response.body#/filename"}),
                "similar": Link("similarMedia", _BY_MEDIA_ID),
                "delete": Link("deleteMedia", _BY_MEDIA_ID),
            },
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}/thumbnail",
        thumbnail,
        method="GET",
        operation=Operation(
            operation_id="getThumbnail",
            summary="The media's thumbnail (JPEG); 404 until analysis made one",
            tag="media",
            media_type="image/jpeg",
            errors=_MEDIA_ERRORS,
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}/frames/{frame}",
        frame,
        method="GET",
        operation=Operation(
            operation_id="getFrame",
            summary="A video scene's keyframe picture (JPEG), as a search moment's frame_url names it; 404 if none",
            tag="media",
            media_type="image/jpeg",
            errors=_MEDIA_ERRORS,
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}/content",
        content,
        method="GET",
        operation=Operation(
            operation_id="getContent",
            summary="The original file's bytes (Range requests answer 206)",
            tag="media",
            media_type="*/*",
            statuses=(206,),
            errors=(*_MEDIA_ERRORS, 416),
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}/content-url",
        content_url,
        method="GET",
        operation=Operation(
            operation_id="getContentUrl",
            summary="A short-lived signed URL of the original, for <video> and <audio>",
            tag="media",
            response=out.ContentUrl,
            errors=_MEDIA_ERRORS,
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}",
        delete_media,
        method="DELETE",
        operation=Operation(
            operation_id="deleteMedia",
            summary="Delete a media file, its bytes, analysis and index entries",
            tag="media",
            status=204,
            errors=_MEDIA_ERRORS,
        ),
    ),
]
