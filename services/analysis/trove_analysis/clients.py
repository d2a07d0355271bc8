"""gRPC adapters the pipeline uses: media status to ingest, segments to search; blobs from local storage."""

from __future__ import annotations

from pathlib import Path

from trove_analysis.models import IndexedSegment
from trove_common.blobstore import LocalBlobStore
from trove_common.errors import NotFoundError
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2, search_pb2_grpc


class IngestStatusSink:
    def __init__(self, stub: ingest_pb2_grpc.IngestServiceStub) -> None:
        self._stub = stub

    async def set_status(self, *, media_id: str, status: str, error: str = "") -> None:
        await self._stub.SetStatus(ingest_pb2.SetStatusRequest(media_id=media_id, status=status, error=error))


class SearchSegmentIndex:
    def __init__(self, stub: search_pb2_grpc.SearchServiceStub) -> None:
        self._stub = stub

    async def index(self, *, media_id: str, model: str, dim: int, segments: list[IndexedSegment]) -> None:
        request = search_pb2.IndexSegmentsRequest(
            media_id=media_id,
            model=model,
            dim=dim,
            segments=[
                search_pb2.Segment(kind=s.kind, start_s=s.start_s, end_s=s.end_s, text=s.text, vector=s.vector.tolist())
                for s in segments
            ],
        )
        await self._stub.IndexSegments(request, timeout=60)


class LocalObjectStore:
    """Objects of the embedded blob store are already local files."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store

    def local_path(self, key: str) -> Path:
        path = self._store.path(key)
        if not path.exists():
            raise NotFoundError(f"object {key} does not exist")
        return path
