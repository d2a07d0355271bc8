"""A long recording indexes: 3,000 segments (several times gRPC's 4 MB message limit) go in chunks, none lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import numpy as np
from support import as_user, billing_user

from trove_analysis.clients import SearchSegmentIndex
from trove_analysis.models import IndexedFace, IndexedSegment, MediaFacts
from trove_common.context import user_id_var
from trove_ml import TextEmbedder
from trove_protos.search.v1 import search_pb2, search_pb2_grpc

Connect = Callable[..., grpc.aio.Channel]
SEGMENTS = 3000


async def test_a_3000_segment_file_is_indexed_in_chunks_and_a_rerun_replaces_it(grpc_channel: Connect) -> None:
    embedder = TextEmbedder()
    user = await billing_user(grpc_channel("billing"))
    media_id = str(uuid.uuid4())
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(SEGMENTS, embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    segments = [
        IndexedSegment(
            kind="speech",
            start_s=2.0 * i,
            end_s=2.0 * i + 2,
            text=f"minute {i // 30} of the long meeting, remark number {i}, about budgets and timelines",
            vector=vectors[i],
        )
        for i in range(SEGMENTS)
    ]
    facts = MediaFacts(
        kind="audio",
        taken_at="",
        uploaded_at="",
        duration_s=2.0 * SEGMENTS,
        has_faces=False,
        language="en",
        filename="meeting.wav",
        content_type="audio/wav",
    )
    index = SearchSegmentIndex(search_pb2_grpc.SearchServiceStub(grpc_channel("search", caller="analysis")))
    token = user_id_var.set(user)
    try:
        for _ in range(2):  # a re-run (a retried stage) replaces the chunks, never adds to them
            await index.index(
                media_id=media_id,
                model=embedder.model_name,
                dim=embedder.dim,
                segments=segments,
                facts=facts,
                image_model=None,
            )
    finally:
        user_id_var.reset(token)

    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    deleted = await search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id), metadata=as_user(user))
    assert deleted.deleted == SEGMENTS


async def test_many_faces_go_in_chunks_of_their_own_and_a_rerun_keeps_them(grpc_channel: Connect) -> None:
    """600 faces with 4 KB crops (2.4 MB, more than one chunk) of one short clip: every face arrives once."""
    embedder = TextEmbedder()
    user = await billing_user(grpc_channel("billing"))
    media_id = str(uuid.uuid4())
    segment = IndexedSegment(kind="scene", start_s=0, end_s=60, text="a crowd", vector=embedder.embed(["a crowd"])[0])
    rng = np.random.default_rng(11)
    someone = rng.normal(size=128) * 0.08
    faces = [
        IndexedFace(
            box=(0.1, 0.1, 0.2, 0.2),
            score=1.0,
            embedding=tuple(float(v) for v in someone + rng.normal(size=128) * 0.001),  # one person throughout
            start_s=i * 0.1,
            end_s=i * 0.1 + 0.1,
            crop=bytes(rng.integers(0, 256, size=4096, dtype=np.uint8)),
        )
        for i in range(600)
    ]
    facts = MediaFacts(
        kind="video",
        taken_at="",
        uploaded_at="",
        duration_s=60,
        has_faces=True,
        language="",
        filename="crowd.mp4",
        content_type="video/mp4",
    )
    index = SearchSegmentIndex(search_pb2_grpc.SearchServiceStub(grpc_channel("search", caller="analysis")))
    token = user_id_var.set(user)
    try:
        for _ in range(2):
            await index.index(
                media_id=media_id,
                model=embedder.model_name,
                dim=embedder.dim,
                segments=[segment],
                facts=facts,
                image_model=None,
                faces=faces,
            )
    finally:
        user_id_var.reset(token)
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    people = (await search.ListPeople(search_pb2.ListPeopleRequest(), metadata=as_user(user))).people
    assert [p.face_count for p in people] == [600]
