"""SearchService through a real channel to the running search server (media records from the real ingest)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import httpx
import pytest
from support import DEV_MEDIA, as_user, billing_user

from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_ml import TextEmbedder
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from trove_protos.search.v1 import search_pb2, search_pb2_grpc

Connect = Callable[[str], grpc.aio.Channel]
EMBEDDER = TextEmbedder()


async def _audio_media(stub: ingest_pb2_grpc.IngestServiceStub, user: tuple[tuple[str, str], ...]) -> str:
    """A media record whose analysis indexes nothing, so only this test's segments are in the index."""
    data = (DEV_MEDIA / "weather_report.wav").read_bytes()
    ticket = await stub.CreateUpload(
        ingest_pb2.CreateUploadRequest(filename="memo.wav", content_type="audio/wav", size_bytes=len(data)),
        metadata=user,
    )
    async with httpx.AsyncClient() as client:
        assert (await client.put(ticket.upload_url, content=data, headers=dict(ticket.headers))).status_code == 200
    media = await stub.CompleteUpload(ingest_pb2.CompleteUploadRequest(upload_id=ticket.upload_id), metadata=user)
    return str(media.media_id)


def _segments(*texts_and_spans: tuple[str, float, float]) -> list[search_pb2.Segment]:
    vectors = EMBEDDER.embed([t for t, _, _ in texts_and_spans])
    return [
        search_pb2.Segment(kind="speech", start_s=s, end_s=e, text=t, vector=v.tolist())
        for (t, s, e), v in zip(texts_and_spans, vectors, strict=True)
    ]


async def test_index_search_delete(grpc_channel: Connect) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    user = as_user(await billing_user(grpc_channel("billing")))
    media_id = await _audio_media(ingest, user)
    segments = _segments(
        ("Good morning and welcome.", 0.0, 2.0), ("Expect heavy rain and strong winds this afternoon.", 2.0, 6.5)
    )
    request = search_pb2.IndexSegmentsRequest(
        media_id=media_id, model=EMBEDDER.model_name, dim=EMBEDDER.dim, segments=segments
    )
    assert (await search.IndexSegments(request, metadata=user)).indexed == 2
    assert (await search.IndexSegments(request, metadata=user)).indexed == 2  # replaces, never duplicates

    found = await search.Search(search_pb2.SearchRequest(query="will it rain later today", limit=5), metadata=user)
    assert [h.media_id for h in found.hits] == [media_id]
    hit = found.hits[0]
    assert (hit.segment.start_s, hit.segment.end_s) == (2.0, 6.5)
    assert hit.filename == "memo.wav" and hit.media_kind == "audio" and 0 < hit.score <= 1

    stranger = as_user(str(uuid.uuid4()))
    assert not (await search.Search(search_pb2.SearchRequest(query="rain", limit=5), metadata=stranger)).hits
    assert (await search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id), metadata=stranger)).deleted == 0
    assert (await search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id), metadata=user)).deleted == 2
    assert not (await search.Search(search_pb2.SearchRequest(query="rain", limit=5), metadata=user)).hits
    # An analysis that finishes after the delete cannot bring the file back (the stranger's try changed nothing).
    with pytest.raises(NotFoundError, match="media was deleted"):
        await search.IndexSegments(request, metadata=user)
    assert not (await search.Search(search_pb2.SearchRequest(query="rain", limit=5), metadata=user)).hits
    assert (await search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=media_id), metadata=user)).deleted == 0


async def test_results_show_the_file_as_indexed_and_older_files_as_ingest_has_them(grpc_channel: Connect) -> None:
    ingest = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    user = as_user(await billing_user(grpc_channel("billing")))
    kept, older = await _audio_media(ingest, user), await _audio_media(ingest, user)  # both "memo.wav" in ingest
    facts = search_pb2.MediaFacts(
        kind="audio", uploaded_at="2026-03-01T10:00:00+00:00", filename="forecast.wav", content_type="audio/wav"
    )
    ingested = (await ingest.GetMedia(ingest_pb2.GetMediaRequest(media_id=older), metadata=user)).content_type
    for media_id, text, sent in ((kept, "heavy rain this afternoon", facts), (older, "rain by the evening", None)):
        request = search_pb2.IndexSegmentsRequest(
            media_id=media_id, model=EMBEDDER.model_name, dim=EMBEDDER.dim, segments=_segments((text, 0.0, 2.0))
        )
        if sent is not None:
            request.facts.CopyFrom(sent)
        await search.IndexSegments(request, metadata=user)

    for _ in range(2):  # the older file's name comes from ingest once, then from search
        found = await search.Search(search_pb2.SearchRequest(query="rain", limit=5), metadata=user)
        shown = {h.media_id: (h.filename, h.media_kind, h.content_type) for h in found.hits}
        assert shown == {kept: ("forecast.wav", "audio", "audio/wav"), older: ("memo.wav", "audio", ingested)}
        assert {h.media_id: h.created_at for h in found.hits}[kept] == "2026-03-01T10:00:00+00:00"


async def test_bad_requests_are_invalid_argument(grpc_channel: Connect) -> None:
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    user = as_user(str(uuid.uuid4()))
    media_id = str(uuid.uuid4())
    good = _segments(("hello", 0.0, 1.0))[0]
    pictured = search_pb2.Segment(kind="image", text="x", vector=good.vector, image_vector=[0.6, 0.8])
    bad_requests = [
        search_pb2.IndexSegmentsRequest(media_id=media_id, model="m", dim=3, segments=[good]),
        search_pb2.IndexSegmentsRequest(
            media_id=media_id,
            model=EMBEDDER.model_name,
            dim=384,
            segments=[search_pb2.Segment(kind="poem", start_s=0, end_s=1, text="x", vector=good.vector)],
        ),
        search_pb2.IndexSegmentsRequest(
            media_id=media_id,
            model=EMBEDDER.model_name,
            dim=384,
            segments=[search_pb2.Segment(kind="speech", start_s=5, end_s=1, text="x", vector=good.vector)],
        ),
        search_pb2.IndexSegmentsRequest(media_id="nope", model=EMBEDDER.model_name, dim=384, segments=[good]),
        # Picture vectors: of no named image-text model, of the wrong length, or not finite.
        search_pb2.IndexSegmentsRequest(media_id=media_id, model=EMBEDDER.model_name, dim=384, segments=[pictured]),
        search_pb2.IndexSegmentsRequest(
            media_id=media_id, model=EMBEDDER.model_name, dim=384, segments=[pictured], image_model="c", image_dim=4
        ),
        search_pb2.IndexSegmentsRequest(
            media_id=media_id,
            model=EMBEDDER.model_name,
            dim=384,
            segments=[search_pb2.Segment(kind="image", text="x", vector=good.vector, image_vector=[1.0, float("nan")])],
            image_model="c",
            image_dim=2,
        ),
    ]
    for request in bad_requests:
        with pytest.raises(InvalidArgumentError):
            await search.IndexSegments(request, metadata=user)
    for query, limit in (("", 5), ("   ", 5), ("x" * 513, 5), ("cat", 0), ("cat", 101)):
        with pytest.raises(InvalidArgumentError):
            await search.Search(search_pb2.SearchRequest(query=query, limit=limit), metadata=user)


async def test_minus_words_leave_out_every_file_that_says_them(grpc_channel: Connect) -> None:
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    user = as_user(await billing_user(grpc_channel("billing")))
    files = {
        "walk": ["a dog runs along the beach", "waves at sunset"],
        "sunset": ["the beach at sunset"],
        "park": ["a dog in the park"],
    }
    ids = {}
    for name, texts in files.items():
        ids[name] = str(uuid.uuid4())
        request = search_pb2.IndexSegmentsRequest(
            media_id=ids[name],
            model=EMBEDDER.model_name,
            dim=EMBEDDER.dim,
            segments=_segments(*((text, float(i), i + 1.0) for i, text in enumerate(texts))),
            facts=search_pb2.MediaFacts(kind="video", filename=f"{name}.mp4", content_type="video/mp4"),
        )
        await search.IndexSegments(request, metadata=user)

    async def found(query: str) -> search_pb2.SearchResponse:
        return await search.Search(search_pb2.SearchRequest(query=query, limit=10), metadata=user)

    assert {h.media_id for h in (await found("beach")).hits} == {ids["walk"], ids["sunset"]}
    without = await found("beach -dog")
    assert [h.media_id for h in without.hits] == [ids["sunset"]]
    assert (without.understood.text, list(without.understood.excluded)) == ("beach", ["dog"])
    # The walk's sunset scene says no "dog", but another of its scenes does: the whole file is left out.
    assert ids["walk"] in {h.media_id for h in (await found("sunset")).hits}
    assert [h.media_id for h in (await found("sunset -dog")).hits] == [ids["sunset"]]
    # Nothing but exclusions: every file that does not say them.
    assert [h.media_id for h in (await found("-dog")).hits] == [ids["sunset"]]
