"""gRPC adapter of the search service."""

from __future__ import annotations

import grpc
import numpy as np

from trove_common.context import user_id_var
from trove_protos.search.v1 import search_pb2, search_pb2_grpc
from trove_search.models import Segment
from trove_search.search import Search


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, search: Search) -> None:
        self._search = search

    async def IndexSegments(
        self, request: search_pb2.IndexSegmentsRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.IndexSegmentsResponse:
        segments = [
            Segment(
                kind=s.kind,
                start_s=s.start_s,
                end_s=s.end_s,
                text=s.text,
                vector=np.asarray(s.vector, dtype=np.float32),
                page=s.page,
            )
            for s in request.segments
        ]
        indexed = await self._search.index(
            user_id=user_id_var.get(),
            media_id=request.media_id,
            model=request.model,
            dim=request.dim,
            segments=segments,
        )
        return search_pb2.IndexSegmentsResponse(indexed=indexed)

    async def Search(
        self, request: search_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        found = await self._search.search(user_id=user_id_var.get(), query=request.query, limit=request.limit)
        hits = [
            search_pb2.SearchHit(
                media_id=r.hit.media_id,
                score=r.hit.score,
                segment=search_pb2.Segment(
                    kind=r.hit.kind, start_s=r.hit.start_s, end_s=r.hit.end_s, text=r.hit.text, page=r.hit.page
                ),
                filename=r.media.filename,
                media_kind=r.media.kind,
                content_type=r.media.content_type,
                created_at=r.media.created_at,
            )
            for r in found.results
        ]
        return search_pb2.SearchResponse(hits=hits, took_ms=found.took_ms)

    async def DeleteMedia(
        self, request: search_pb2.DeleteMediaRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.DeleteMediaResponse:
        deleted = await self._search.delete_media(user_id=user_id_var.get(), media_id=request.media_id)
        return search_pb2.DeleteMediaResponse(deleted=deleted)
