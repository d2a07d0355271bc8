"""Search at scale: 100,000 synthetic segments for one user, searched through the gateway and straight in SQL.

Figures: gateway p50/p95 at concurrency 1 and 16 (new queries, so no cache hits), the raw pgvector query on
the same data and the ratio, a repeated query's cache-hit latency, and HNSW recall@10 against exact search.
Synthetic vectors are drawn around 500 random topics (a topic direction plus noise, normalised), so like real
embeddings they have neighbourhoods; uniformly random 384-d vectors have none and defeat any ANN index.
Every query also has an answer, as in a real library: one file whose segment holds the query's words, embedded
by the real model, so each search ranks, cuts and assembles a page of results (without answers every query was
cut to nothing and the result assembly went unmeasured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests")]

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from pgvector.asyncpg import register_vector  # noqa: E402
from support import Api, sign_up  # noqa: E402

from trove_ml import TextEmbedder  # noqa: E402
from trove_search import repo  # noqa: E402
from trove_search.models import space_name  # noqa: E402
from trove_stack.infra import Infra, running_infra, running_services  # noqa: E402
from trove_stack.services import wait_gateway_ready  # noqa: E402

SEGMENTS = 100_000
PER_MEDIA = 50
QUERIES = 100  # searched one at a time; four times as many at concurrency 16 (p95 of 40 was its second-worst)
WARM_UP = 20  # searches before any timing: the first ones after the bulk load pay for cold caches
RECALL_QUERIES = 50
DIM = 384
SPACE = space_name("all-MiniLM-L6-v2", DIM)
# Words the queries are made of; the segments' text also draws on a large vocabulary with Zipf frequencies.
WORDS = (
    "garden holiday receipt invoice hammer motorbike rental beach sunset meeting payment bug login page soup menu "
    "lunch coffee cat dog sofa temple hills village train station ticket concert guitar birthday cake candles "
    "wedding dress mountain lake boat fishing rain snow wind forecast kitchen recipe tomato garlic pasta sauce"
).split()
VOCABULARY = 20_000
WORDNET_NOUNS = Path("/usr/share/wordnet/index.noun")


TOPICS = np.random.default_rng(5).standard_normal((500, DIM)).astype(np.float32)


def _clustered(rng: np.random.Generator, count: int) -> np.ndarray:
    """Unit vectors near random topics: noise of about the topic's own length blurs each neighbourhood."""
    picks = TOPICS[rng.integers(0, len(TOPICS), count)]
    vectors = (picks + rng.standard_normal((count, DIM)).astype(np.float32)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _vocabulary(rng: random.Random) -> list[str]:
    """English nouns by made-up frequency rank, the query words placed among the common-ish ones (ranks 20-2000).

    Real text follows Zipf's law: a few words are in most segments, most words in few. A vocabulary of 60 words
    put every query word into a quarter of all segments, which no real library looks like.
    """
    nouns = sorted(
        {line.split()[0] for line in WORDNET_NOUNS.read_text().splitlines() if line[:1].isalpha() and "_" not in line}
        - set(WORDS)
    )
    vocabulary = rng.sample(nouns, VOCABULARY - len(WORDS))
    for word in WORDS:
        vocabulary.insert(rng.randint(20, 2000), word)
    return vocabulary


def _texts(rng: random.Random, count: int) -> list[str]:
    """`count` segment texts of 8-40 words drawn with Zipf frequencies (s = 1.1) from `_vocabulary`."""
    vocabulary = _vocabulary(rng)
    weights = 1 / np.arange(1, len(vocabulary) + 1) ** 1.1
    draw = np.random.default_rng(rng.randint(0, 2**32)).choice
    picks = draw(len(vocabulary), size=count * 40, p=weights / weights.sum())
    lengths = [rng.randint(8, 40) for _ in range(count)]
    return [" ".join(vocabulary[i] for i in picks[40 * n : 40 * n + size]) for n, size in enumerate(lengths)]


async def load(infra: Infra, user_id: str, *, segments: int = SEGMENTS, answers: Sequence[str] = ()) -> None:
    """Media records in ingest and their segments in search, written as the services' own roles would.

    Args:
        answers: queries to answer: each gets a file of its own with one segment that holds its words.
    """
    rng = random.Random(7)
    texts = _texts(rng, segments) + [f"{query} {' '.join(rng.sample(WORDS, 3))}" for query in answers]
    vectors = np.vstack([_clustered(np.random.default_rng(7), segments), TextEmbedder().embed(texts[segments:])])
    media_ids = [uuid.uuid4() for _ in range(segments // PER_MEDIA + len(answers))]
    owner = [i // PER_MEDIA for i in range(segments)] + [segments // PER_MEDIA + n for n in range(len(answers))]
    admin = await asyncpg.connect(infra.admin_dsn)
    await register_vector(admin)
    try:
        uploads = [(m, uuid.UUID(user_id), f"synthetic-{i}.jpg", f"bench/{m}") for i, m in enumerate(media_ids)]
        await admin.executemany(
            """INSERT INTO ingest.uploads (upload_id, user_id, filename, content_type, size_bytes, storage_key,
                   expires_at, media_id) VALUES ($1, $2, $3, 'image/jpeg', 1, $4, now(), $1)""",
            uploads,
        )
        await admin.executemany(
            """INSERT INTO ingest.media_files (media_id, user_id, upload_id, filename, content_type, kind, size_bytes,
                   storage_key, status) VALUES ($1, $2, $1, $3, 'image/jpeg', 'image', 1, $4, 'completed')""",
            uploads,
        )
        await admin.executemany(
            """INSERT INTO search.media (media_id, user_id, kind, filename, content_type)
               VALUES ($1, $2, 'image', $3, 'image/jpeg')""",
            [(m, owner_id, filename) for m, owner_id, filename, _ in uploads],
        )
        await admin.execute("DROP INDEX IF EXISTS search.media_embeddings_minilm_hnsw")
        rows = [(uuid.UUID(user_id), media_ids[owner[i]], "image", text) for i, text in enumerate(texts)]
        ids = [
            r["segment_id"]
            for r in await admin.fetch(
                """INSERT INTO search.media_text (user_id, media_id, kind, text)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) RETURNING segment_id""",
                *map(list, zip(*rows, strict=True)),
            )
        ]
        await admin.copy_records_to_table(
            "media_embeddings",
            schema_name="search",
            columns=["segment_id", "space", "user_id", "media_id", "embedding"],
            records=[(sid, SPACE, uuid.UUID(user_id), media_ids[owner[i]], vectors[i]) for i, sid in enumerate(ids)],
        )
        await admin.execute("SET maintenance_work_mem = '512MB'")
        await admin.execute(
            """CREATE INDEX media_embeddings_minilm_hnsw ON search.media_embeddings
               USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE space = 'all-MiniLM-L6-v2/384'"""
        )
        # Fresh statistics on all three tables: with none on search.media the planner takes the user for six
        # media and joins its way through every vector instead of asking the HNSW index (800 ms a query). The
        # vacuum is what autovacuum would do after a bulk insert anyway; done now, it does not run (walking the
        # vector index for a minute) while the searches are timed.
        for table in ("media", "media_embeddings", "media_text"):
            await admin.execute(f"VACUUM (ANALYZE) search.{table}")
    finally:
        await admin.close()


def _pcts(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
    }


async def _gateway(api: Api, queries: list[str], concurrency: int, answered: list[bool] | None = None) -> list[float]:
    """Latencies of searching each query through the gateway; `answered` gets whether each found anything."""
    samples: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=api.base_url, headers={"Authorization": f"Bearer {api.token}"}, timeout=60
    ) as client:

        async def one(q: str) -> None:
            async with gate:
                started = time.perf_counter()
                response = await client.get("/api/v1/search", params={"q": q, "limit": 10})
                samples.append(1000 * (time.perf_counter() - started))
                assert response.status_code == 200, response.text
                if answered is not None:
                    answered.append(bool(response.json()["results"]))

        await asyncio.gather(*(one(q) for q in queries))
    return samples


async def _raw_and_recall(infra: Infra, user_id: str, queries: list[str]) -> tuple[list[float], float]:
    embedder = TextEmbedder()
    conn = await asyncpg.connect(infra.dsns["search"])
    await register_vector(conn)
    samples, recalls = [], []
    rng = np.random.default_rng(11)
    try:
        # Embedded beforehand, so no embedding (and none of its threads) runs beside the timed queries.
        for vector in embedder.embed(queries):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
                await repo.nearest(conn, space=SPACE, dim=DIM, vector=vector, limit=100, ef_search=100)
            samples.append(1000 * (time.perf_counter() - started))
        for _ in range(RECALL_QUERIES):
            probe = _clustered(rng, 1)[0]
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
                # As the service does: 100 candidates from the index (relaxed order), the best 10 of them.
                found = await repo.nearest(conn, space=SPACE, dim=DIM, vector=probe, limit=100, ef_search=100)
                approx = {c.segment_id for c in sorted(found, key=lambda c: -c.similarity)[:10]}
                await conn.execute("SET LOCAL enable_indexscan = off")
                exact = {
                    c.segment_id
                    for c in await repo.nearest(conn, space=SPACE, dim=DIM, vector=probe, limit=10, ef_search=100)
                }
            recalls.append(len(approx & exact) / 10)
    finally:
        await conn.close()
    return samples, statistics.mean(recalls)


async def measure(infra: Infra, api: Api, user_id: str, *, segments: int = SEGMENTS) -> dict[str, object]:
    rng = random.Random(3)
    # Distinct queries (no cache hits) of two to four words each: a warm-up, then the timed ones.
    distinct: dict[str, None] = {}
    while len(distinct) < WARM_UP + 5 * QUERIES:
        distinct[" ".join(rng.sample(WORDS, rng.randint(2, 4)))] = None
    fresh = list(distinct)
    warm, one_by_one, together = fresh[:WARM_UP], fresh[WARM_UP : WARM_UP + QUERIES], fresh[WARM_UP + QUERIES :]
    started = time.perf_counter()
    await load(infra, user_id, segments=segments, answers=fresh)
    load_s = time.perf_counter() - started
    await _gateway(api, warm, 1)
    answered: list[bool] = []
    one = _pcts(await _gateway(api, one_by_one, 1, answered))
    # Right after the gateway's pass, so both see the same machine (other work on it moves both).
    raw_samples, recall = await _raw_and_recall(infra, user_id, warm + one_by_one)
    raw = _pcts(raw_samples[WARM_UP:])
    sixteen = _pcts(await _gateway(api, together, 16, answered))
    hit = _pcts(await _gateway(api, [one_by_one[0]] * QUERIES, 1))
    return {
        "segments": segments,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "load_and_index_s": round(load_s, 1),
        "queries_answered": round(statistics.mean(answered), 3),
        "gateway_concurrency_1": one,
        "gateway_concurrency_16": sixteen,
        "gateway_cache_hit": hit,
        "raw_pgvector": raw,
        "ratio_p95_gateway_c1_to_raw": round(one["p95_ms"] / raw["p95_ms"], 2),
        "hnsw_recall_at_10": round(recall, 3),
    }


async def at_scale(infra: Infra, *, segments: int = SEGMENTS) -> dict[str, object]:
    """A new user with `segments` synthetic segments, searched (see `measure`)."""
    token, _ = await sign_up(infra.auth_emulator_host)
    api = Api(base_url=infra.config.gateway_url, token=token)
    assert (await api.request("GET", "/api/v1/media")).status_code == 200  # creates the user in billing
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        user_id = str(await conn.fetchval("SELECT user_id FROM billing.users ORDER BY created_at DESC LIMIT 1"))
    finally:
        await conn.close()
    return await measure(infra, api, user_id, segments=segments)


def main() -> None:
    """Only the search-at-scale figures, on a throwaway stack: `python bench/scale.py --segments 20000`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=SEGMENTS, help=f"synthetic segments (default {SEGMENTS})")
    args = parser.parse_args()
    overrides = {"TROVE_GATEWAY_RATE_LIMITS__ENABLED": "false"}
    with running_infra() as infra, running_services(infra, overrides=overrides):
        wait_gateway_ready(infra.config)
        print(json.dumps(asyncio.run(at_scale(infra, segments=args.segments)), indent=2))


if __name__ == "__main__":
    main()
