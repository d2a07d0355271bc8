"""The embedded blob endpoint: PUT and GET of objects through HMAC-signed, expiring URLs (S3 presigned-URL style)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from trove_common.blobstore import URL_PREFIX, LocalBlobStore, parse_upload_key
from trove_common.context import USER_ID_KEY
from trove_common.errors import InvalidArgumentError, NotFoundError, PayloadTooLargeError, PermissionDeniedError
from trove_gateway.bodies import BlobQuery, ascii_int, parse_query
from trove_gateway.openapi import ApiRoute, Operation
from trove_gateway.state import GatewayState
from trove_protos.ingest.v1 import ingest_pb2


def _checked(request: Request, method: str) -> tuple[LocalBlobStore, GatewayState, str, int]:
    state: GatewayState = request.app.state.gateway
    if state.blobs is None:
        raise NotFoundError("objects are in the S3 bucket: use the presigned URLs the API hands out")
    key = request.path_params["key"]
    try:
        query = parse_query(request.query_params, BlobQuery)
    except InvalidArgumentError:
        # A capability: whatever is wrong with it, the answer is the same as for a wrong signature.
        raise PermissionDeniedError("the signed URL is malformed") from None
    max_bytes = state.blobs.verify(
        key=key, method=method, expires=query.expires, max_bytes=query.max_bytes, signature=query.signature
    )
    return state.blobs, state, key, max_bytes


async def put_blob(request: Request) -> Response:
    """Store the body of an open upload: at most the signed byte count, written to a temporary file and moved into
    place only if nothing is there yet. A URL is dead once its upload is completed, deleted, swept or expired."""
    store, state, key, max_bytes = _checked(request, "PUT")
    owner = parse_upload_key(key)
    if owner is None:
        raise PermissionDeniedError("only an upload's bytes can be written through a signed URL")
    # The signature vouches for the key, and so for the user it names.
    await state.backends.ingest.CheckUploadWritable(
        ingest_pb2.CheckUploadWritableRequest(storage_key=key), metadata=((USER_ID_KEY, owner[0]),)
    )
    declared = request.headers.get("content-length")
    if declared is not None and (not ascii_int(declared) or int(declared) > max_bytes):
        raise PayloadTooLargeError(f"this upload URL accepts at most {max_bytes} bytes")
    temp, final = store.open_temp(key)
    received = 0
    try:
        with store.create_file(temp) as fh:
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:
                    raise PayloadTooLargeError(f"this upload URL accepts at most {max_bytes} bytes")
                fh.write(chunk)
        if received == 0:
            raise InvalidArgumentError("the request body is empty")
        # Never over existing bytes: once written they are what `complete` checks and what analysis reads.
        store.publish(temp, final, replace=False)
    finally:
        temp.unlink(missing_ok=True)
    return Response(status_code=200)


async def get_blob(request: Request) -> Response:
    store, _, key, _ = _checked(request, "GET")
    path = store.path(key)
    if not path.is_file():
        raise NotFoundError("object not found")
    return FileResponse(path)


_SIGNED = "Signed URLs come from createUpload (PUT) and getContentUrl (GET); they need no bearer token."

ROUTES = [
    ApiRoute(
        URL_PREFIX + "{key:path}",
        put_blob,
        method="PUT",
        operation=Operation(
            operation_id="putBlob",
            summary="Store an upload's bytes through its signed URL",
            description=_SIGNED,
            tag="blobs",
            query=BlobQuery,
            body_media_type="application/octet-stream",
            errors=(403, 404, 409, 413),
            signed_in=False,
        ),
    ),
    ApiRoute(
        URL_PREFIX + "{key:path}",
        get_blob,
        method="GET",
        operation=Operation(
            operation_id="getBlob",
            summary="Read an object through its signed URL",
            description=_SIGNED,
            tag="blobs",
            query=BlobQuery,
            media_type="*/*",
            statuses=(206,),
            errors=(403, 404, 416),
            signed_in=False,
        ),
    ),
]
