"""The sweeper of abandoned uploads and orphaned files, run in process against the session's database and blobs."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import grpc
import httpx
import pytest
from support import DEV_MEDIA, as_user, billing_user, sim_s3_settings

from trove_common.blobstore import LocalBlobStore
from trove_common.jobs import AnalyzeMediaArgs
from trove_common.objectstore import LocalObjectStorage
from trove_common.s3store import S3ObjectStorage
from trove_ingest.accounts import BillingAccounts
from trove_ingest.ingest import Enqueue, Ingest
from trove_protos.billing.v1 import billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from trove_stack.config import StackConfig
from trove_stack.infra import Infra

Connect = Callable[[str], grpc.aio.Channel]


async def _never_enqueue(args: AnalyzeMediaArgs) -> None:
    raise AssertionError("sweeping queues nothing")


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(infra.dsns["ingest"], min_size=1, max_size=2)
    yield pool
    await pool.close()


def _ingest(
    infra: Infra, pool: asyncpg.Pool, connect: Connect, enqueue: Enqueue = _never_enqueue
) -> tuple[Ingest, LocalBlobStore]:
    store = LocalBlobStore(root=infra.config.blobs_dir, signing_key=infra.secrets.signing_key)
    ingest = Ingest(
        pool=pool,
        store=LocalObjectStorage(store),
        enqueue=enqueue,
        accounts=BillingAccounts(billing_pb2_grpc.BillingServiceStub(connect("billing"))),
        max_upload_bytes=10**9,
        url_ttl_s=900,
    )
    return ingest, store


async def _uploads(pool: asyncpg.Pool, user_id: str) -> set[str]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
        return {r["id"] for r in await conn.fetch("SELECT upload_id::text AS id FROM ingest.uploads")}


async def test_sweep_removes_abandoned_uploads_with_their_bytes_and_orphans(
    infra: Infra, pool: asyncpg.Pool, grpc_channel: Connect
) -> None:
    ingest, store = _ingest(infra, pool, grpc_channel)
    stub = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    user_id = await billing_user(grpc_channel("billing"))
    user = as_user(user_id)
    data = (DEV_MEDIA / "grass.png").read_bytes()
    tickets = [
        await stub.CreateUpload(
            ingest_pb2.CreateUploadRequest(filename=f"{n}.png", content_type="image/png", size_bytes=len(data)),
            metadata=user,
        )
        for n in range(2)
    ]
    async with httpx.AsyncClient() as client:
        for ticket in tickets:
            assert (await client.put(ticket.upload_url, content=data, headers=dict(ticket.headers))).status_code == 200
    abandoned, fresh = tickets
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
        await conn.execute(
            "UPDATE ingest.uploads SET expires_at = now() - interval '2 hours' WHERE upload_id = $1::uuid",
            abandoned.upload_id,
        )
    folder = infra.config.blobs_dir / "users" / user_id
    # A thumbnail written by a worker after its media was deleted: no upload owns it.
    orphan = folder / f"{uuid.uuid4()}.thumb.jpg"
    orphan.write_bytes(b"jpeg")
    old = time.time() - 7200
    for path in folder.iterdir():
        os.utime(path, (old, old))

    assert await ingest.sweep(grace_s=3600) >= 1
    assert await _uploads(pool, user_id) == {fresh.upload_id}
    assert sorted(p.name for p in folder.iterdir()) == [fresh.upload_id]
    assert store.size(f"users/{user_id}/{fresh.upload_id}") == len(data)
    # The swept upload's URL, though its signature has not expired, writes nothing.
    async with httpx.AsyncClient() as client:
        put = await client.put(abandoned.upload_url, content=data, headers=dict(abandoned.headers))
    assert put.status_code in (403, 404), put.text

    # Within the grace period nothing goes.
    assert await ingest.sweep(grace_s=3 * 3600) == 0


async def test_sweep_on_s3_removes_abandoned_uploads_and_orphans_from_the_bucket(
    infra: Infra, aws_sim_config: StackConfig, pool: asyncpg.Pool, grpc_channel: Connect
) -> None:
    store = await S3ObjectStorage.open(sim_s3_settings(aws_sim_config, infra), env_prefix="TROVE_INGEST_")
    try:
        ingest = Ingest(
            pool=pool,
            store=store,
            enqueue=_never_enqueue,
            accounts=BillingAccounts(billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))),
            max_upload_bytes=10**9,
            url_ttl_s=900,
        )
        user_id = await billing_user(grpc_channel("billing"))
        data = (DEV_MEDIA / "grass.png").read_bytes()
        tickets = [
            await ingest.create_upload(
                user_id=user_id, filename=f"{n}.png", content_type="image/png", size_bytes=len(data)
            )
            for n in range(2)
        ]
        async with httpx.AsyncClient() as client:
            for ticket in tickets:
                assert (await client.put(ticket.url, content=data, headers=ticket.headers)).status_code == 200
        abandoned, fresh = tickets
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
            await conn.execute(
                "UPDATE ingest.uploads SET expires_at = now() - interval '2 hours' WHERE upload_id = $1::uuid",
                abandoned.upload_id,
            )
        orphan = f"users/{user_id}/{uuid.uuid4()}.thumb.jpg"
        await store.put(orphan, b"jpeg")
        await asyncio.sleep(1.1)  # S3 times are whole seconds: everything above is now older than grace 0

        assert await ingest.sweep(grace_s=0) >= 1
        assert await _uploads(pool, user_id) == {fresh.upload_id}
        assert await store.stale_user_objects(user_id, modified_before=time.time() + 60) == [fresh.upload_id]
        assert await store.size(f"users/{user_id}/{fresh.upload_id}") == len(data)
    finally:
        await store.aclose()


async def test_media_left_queued_is_queued_again(infra: Infra, pool: asyncpg.Pool, grpc_channel: Connect) -> None:
    """An enqueue lost with Redis leaves media `queued` with no job: the requeuer queues it again, once per round."""
    stub = ingest_pb2_grpc.IngestServiceStub(grpc_channel("ingest"))
    user_id = await billing_user(grpc_channel("billing"))
    user = as_user(user_id)
    data = (DEV_MEDIA / "grace_hopper.jpg").read_bytes()
    ticket = await stub.CreateUpload(
        ingest_pb2.CreateUploadRequest(filename="lost.jpg", content_type="image/jpeg", size_bytes=len(data)),
        metadata=user,
    )
    async with httpx.AsyncClient() as client:
        assert (await client.put(ticket.upload_url, content=data, headers=dict(ticket.headers))).status_code == 200
    media = await stub.CompleteUpload(ingest_pb2.CompleteUploadRequest(upload_id=ticket.upload_id), metadata=user)
    for _ in range(600):  # the real job runs first; then the test makes it look lost
        status = (await stub.GetMedia(ingest_pb2.GetMediaRequest(media_id=media.media_id), metadata=user)).status
        if status in ("completed", "failed"):
            break
        await asyncio.sleep(0.1)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
        await conn.execute(
            "UPDATE ingest.media_files SET status = 'queued', updated_at = now() - interval '1 hour' "
            "WHERE media_id = $1::uuid",
            media.media_id,
        )
    queued: list[AnalyzeMediaArgs] = []

    async def enqueue(args: AnalyzeMediaArgs) -> None:
        queued.append(args)

    ingest, _ = _ingest(infra, pool, grpc_channel, enqueue)  # the queue here is a list
    assert await ingest.requeue_stale(older_than_s=600) >= 1
    assert [a.user_id for a in queued if a.media_id == media.media_id] == [user_id]
    queued.clear()
    await ingest.requeue_stale(older_than_s=7200)  # not queued that long: left alone
    assert all(a.media_id != media.media_id for a in queued)
