"""Adapters the pipeline uses: ingest (status), search (segments), billing (limits, costs), local blob storage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message

from trove_analysis.models import IndexedFace, IndexedSegment, MediaFacts
from trove_common.blobstore import LocalBlobStore
from trove_common.errors import NotFoundError
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2, search_pb2_grpc


class IngestMediaStatus:
    def __init__(self, stub: ingest_pb2_grpc.IngestServiceStub) -> None:
        self._stub = stub

    async def set_status(self, *, media_id: str, status: str, error: str = "") -> None:
        await self._stub.SetStatus(ingest_pb2.SetStatusRequest(media_id=media_id, status=status, error=error))


class SearchSegmentIndex:
    def __init__(self, stub: search_pb2_grpc.SearchServiceStub) -> None:
        self._stub = stub

    async def index(
        self,
        *,
        media_id: str,
        model: str,
        dim: int,
        segments: list[IndexedSegment],
        facts: MediaFacts,
        image_model: tuple[str, int] | None,
        faces: Sequence[IndexedFace] = (),
    ) -> None:
        """All the media's segments and faces, in chunks of at most ~INDEX_CHUNK_BYTES each (gRPC refuses messages
        over 4 MB): the first call replaces what the media had, later ones append."""
        images = image_model if any(s.image_vector is not None for s in segments) else None
        wire = [
            search_pb2.Segment(
                kind=s.kind,
                start_s=s.start_s,
                end_s=s.end_s,
                text=s.text,
                vector=s.vector.tolist(),
                page=s.page,
                keywords=s.keywords,
                image_vector=[] if s.image_vector is None else s.image_vector.tolist(),
                caption=s.caption,
                frame=s.frame,
            )
            for s in segments
        ]
        wire_faces = [
            search_pb2.Face(
                box=list(f.box),
                score=f.score,
                embedding=list(f.embedding),
                start_s=f.start_s,
                end_s=f.end_s,
                crop=f.crop,
            )
            for f in faces
        ]
        segment_chunks = list(_chunks(wire, max_bytes=INDEX_CHUNK_BYTES))
        face_chunks = [chunk for _, chunk in _chunks(wire_faces, max_bytes=INDEX_CHUNK_BYTES)]
        # The faces ride with the segments' calls, then any left over in calls of their own, appending.
        calls = max(len(segment_chunks), len(face_chunks))
        for i in range(calls):
            first, chunk = segment_chunks[i] if i < len(segment_chunks) else (max(len(wire), 1), [])
            request = search_pb2.IndexSegmentsRequest(
                media_id=media_id,
                model=model,
                dim=dim,
                image_model=images[0] if images else "",
                image_dim=images[1] if images else 0,
                facts=search_pb2.MediaFacts(
                    kind=facts.kind,
                    taken_at=facts.taken_at,
                    uploaded_at=facts.uploaded_at,
                    duration_s=facts.duration_s,
                    has_faces=facts.has_faces,
                    language=facts.language,
                    filename=facts.filename,
                    content_type=facts.content_type,
                ),
                segments=chunk,
                first=first,
                faces=face_chunks[i] if i < len(face_chunks) else [],
            )
            await self._stub.IndexSegments(request, timeout=60)


# Well under gRPC's default 4 MB message limit, whatever one segment adds beyond it.
INDEX_CHUNK_BYTES = 1 << 20

M = TypeVar("M", bound=Message)


def _chunks(items: list[M], *, max_bytes: int) -> Iterator[tuple[int, list[M]]]:
    """(index of the chunk's first item, the chunk); always at least one chunk, empty when there are no items."""
    start, size = 0, 0
    for i, item in enumerate(items):
        cost = item.ByteSize() + 8
        if i > start and size + cost > max_bytes:
            yield start, items[start:i]
            start, size = i, 0
        size += cost
    yield start, items[start:]


class BillingAccounts:
    """The calling user's tier limits and the cost ledger; the user id rides in the call's metadata."""

    def __init__(self, stub: billing_pb2_grpc.BillingServiceStub) -> None:
        self._stub = stub

    async def max_media_duration_s(self) -> float:
        user = await self._stub.GetUser(billing_pb2.GetUserRequest())
        return float(user.limits.max_media_duration_s)

    async def record_derived_bytes(self, *, media_id: str, size_bytes: int) -> None:
        await self._stub.RecordDerivedBytes(
            billing_pb2.RecordDerivedBytesRequest(media_id=media_id, size_bytes=size_bytes)
        )

    async def processing_s_left(self) -> float:
        usage = await self._stub.GetUsage(billing_pb2.GetUsageRequest())
        return max(0.0, float(usage.limits.processing_minutes_per_month - usage.processing_minutes) * 60)

    async def record_cost(self, *, key: str, media_id: str, stage: str, service: str, units: float) -> None:
        await self._stub.RecordCost(
            billing_pb2.RecordCostRequest(
                idempotency_key=key, media_id=media_id, stage=stage, service=service, units=units
            )
        )


class LocalObjectStore:
    """Objects of the embedded blob store are already local files."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store

    async def local_path(self, key: str) -> Path:
        path = self._store.path(key)
        if not await asyncio.to_thread(path.exists):
            raise NotFoundError(f"object {key} does not exist")
        return path

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._store.write, key, data)

    async def derived_bytes(self, key: str) -> int:
        return await asyncio.to_thread(self._store.derived_bytes, key)
