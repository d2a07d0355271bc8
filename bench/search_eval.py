"""`make eval`: search quality on the sample corpus (recall@5, MRR, segment hits, per query), printed as JSON.

With the distractor photos of samples/distractors (the default `--also`) it also reports recall@5 and MRR of the
sample queries with the distractors added, and the distractors' own query sets: weak-answer queries (about what a
distractor really shows; recall@5, MRR) and no-answer queries (whose answer is in no file; the share that returns
nothing). A query's "set" in `queries.jsonl` is "weak" or "none"; without one it is a sample query. The sample
figures are the same search's hits with the distractors left out: scores are absolute, so a media's rank among the
sample files does not depend on the other files.

Drives Trove through its public REST API only: signs a fresh user up on the Firebase Auth Emulator, uploads every
media file of a corpus (create upload -> presigned PUT -> complete), waits for analysis, runs the corpus' queries
(`queries.jsonl`: {"query", "relevant": [file names], "segments": {file name: [start_s, end_s]}}) and scores the
answers itself. Without `--url` it starts its own throwaway stack (embedded PostgreSQL, Redis, emulator and every
service on free loopback ports) and stops it afterwards.

    bench/search_eval.py [CORPUS_DIR] [--url http://127.0.0.1:8080 --auth 127.0.0.1:9099] [--also DIR]...
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests")]

from support import DEV_MEDIA  # noqa: E402

TOP_K = 5
SEARCH_LIMIT = 50  # enough to still hold five sample files once the distractors are left out
DISTRACTORS = REPO / "samples" / "distractors"
# Not media: the corpus' own query and transcript files, and its notes.
SKIPPED_SUFFIXES = frozenset({".jsonl", ".json", ".txt", ".md"})
# The evaluation uploads and polls in a burst; its figures are of search quality, not of the abuse limits.
OVERRIDES = {"TROVE_GATEWAY_RATE_LIMITS__ENABLED": "false"}
CONTENT_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".mp4": "video/mp4"}


@dataclass(frozen=True, slots=True)
class Query:
    """One evaluation query: its text, the files that answer it, and for videos the span that does."""

    text: str
    relevant: frozenset[str]
    segments: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    set: str = "sample"  # "sample", "weak" (a weak but real answer) or "none" (no answer in any file)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result as the evaluation sees it: the file name and, when given, its best segment's span."""

    filename: str
    start_s: float | None = None
    end_s: float | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class QueryScore:
    query: str
    recall_at_k: float
    reciprocal_rank: float
    segment_hits: int
    segments: int
    top: tuple[str, ...]


def parse_queries(text: str) -> list[Query]:
    """The queries of a `queries.jsonl` text (blank lines skipped)."""
    queries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        spans = {name: (float(span[0]), float(span[1])) for name, span in row.get("segments", {}).items()}
        queries.append(
            Query(text=row["query"], relevant=frozenset(row["relevant"]), segments=spans, set=row.get("set", "sample"))
        )
    return queries


def recall_at(hits: Sequence[Hit], relevant: frozenset[str], *, k: int = TOP_K) -> float:
    """Share of the relevant files among the first k distinct file names (1.0 when nothing is relevant)."""
    if not relevant:
        return 1.0
    top = {hit.filename for hit in hits[:k]}
    return len(top & relevant) / len(relevant)


def reciprocal_rank(hits: Sequence[Hit], relevant: frozenset[str]) -> float:
    """1/rank of the first relevant hit (rank 1 is the top), 0.0 when none is returned."""
    for rank, hit in enumerate(hits, start=1):
        if hit.filename in relevant:
            return 1.0 / rank
    return 0.0


def segment_hit(hits: Sequence[Hit], filename: str, span: tuple[float, float]) -> bool:
    """Whether the first hit for `filename` carries a time span that overlaps `span` (touching ends do not)."""
    hit = next((h for h in hits if h.filename == filename), None)
    if hit is None or hit.start_s is None or hit.end_s is None:
        return False
    start, end = span
    return hit.start_s < end and hit.end_s > start


def score(query: Query, hits: Sequence[Hit], *, k: int = TOP_K) -> QueryScore:
    """All figures of one query's answer."""
    hits_on_segments = sum(segment_hit(hits, name, span) for name, span in query.segments.items())
    return QueryScore(
        query=query.text,
        recall_at_k=recall_at(hits, query.relevant, k=k),
        reciprocal_rank=reciprocal_rank(hits, query.relevant),
        segment_hits=hits_on_segments,
        segments=len(query.segments),
        top=tuple(hit.filename for hit in hits[:k]),
    )


def summarise(scores: Sequence[QueryScore], *, k: int = TOP_K) -> dict[str, Any]:
    """Mean recall@k and MRR over the queries, and segment hits out of all expected segments."""
    n = len(scores)
    return {
        "queries": n,
        f"recall@{k}": round(sum(s.recall_at_k for s in scores) / n, 3) if n else 0.0,
        "mrr": round(sum(s.reciprocal_rank for s in scores) / n, 3) if n else 0.0,
        "segment_hits": sum(s.segment_hits for s in scores),
        "segments": sum(s.segments for s in scores),
    }


def hits_of(body: Mapping[str, Any]) -> list[Hit]:
    """The hits of a GET /api/v1/search response body."""
    hits = []
    for result in body.get("results", []):
        segment = result.get("segment") or {}
        start, end = segment.get("start_s"), segment.get("end_s")
        hits.append(
            Hit(
                filename=str(result["filename"]),
                start_s=float(start) if start is not None else None,
                end_s=float(end) if end is not None else None,
                score=float(result["score"]) if result.get("score") is not None else None,
            )
        )
    return hits


def media_files(folder: Path) -> list[Path]:
    """The media files of a corpus folder, by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in SKIPPED_SUFFIXES)


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class Client:
    """A user's session on Trove's REST API."""

    def __init__(self, *, url: str, auth_host: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        email = f"eval-{uuid.uuid4().hex[:10]}@example.com"
        response = httpx.post(
            f"http://{auth_host}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key",
            json={"email": email, "password": "secret-pass-123", "returnSecureToken": True},
            timeout=30,
        )
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['idToken']}"

    def close(self) -> None:
        self.http.close()

    def upload(self, path: Path) -> str:
        """Create, PUT and complete an upload; returns the media id."""
        data, ctype = path.read_bytes(), content_type(path)
        created = self.http.post(
            "/api/v1/uploads", json={"filename": path.name, "content_type": ctype, "size_bytes": len(data)}
        )
        if created.status_code != 201:
            raise SystemExit(f"create upload {path.name}: {created.status_code} {created.text[:300]}")
        ticket = created.json()
        put = httpx.request(
            ticket.get("method", "PUT"), ticket["upload_url"], content=data, headers=ticket.get("headers"), timeout=60
        )
        if put.status_code not in (200, 201, 204):
            raise SystemExit(f"PUT {path.name}: {put.status_code} {put.text[:300]}")
        done = self.http.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
        if done.status_code not in (200, 201, 202):
            raise SystemExit(f"complete {path.name}: {done.status_code} {done.text[:300]}")
        return str(done.json()["media_id"])

    def status(self, media_id: str) -> str | None:
        response = self.http.get(f"/api/v1/media/{media_id}")
        return str(response.json()["status"]) if response.status_code == 200 else None

    def search(self, text: str) -> tuple[int, list[Hit], float]:
        """Status, hits and latency in ms of one search."""
        started = time.perf_counter()
        response = self.http.get("/api/v1/search", params={"q": text, "limit": SEARCH_LIMIT})
        elapsed_ms = 1000 * (time.perf_counter() - started)
        return response.status_code, hits_of(response.json()) if response.status_code == 200 else [], elapsed_ms


def _wait(client: Client, names: Mapping[str, str], *, wait_s: float) -> tuple[list[str], list[str]]:
    """Poll until every upload is completed or failed; returns (failed, still pending) file names."""
    pending, failed = set(names), []
    deadline = time.monotonic() + wait_s
    while pending and time.monotonic() < deadline:
        for media_id in sorted(pending):
            status = client.status(media_id)
            if status in ("completed", "failed"):
                pending.discard(media_id)
                if status == "failed":
                    failed.append(names[media_id])
        if pending:
            time.sleep(1.0)
    return sorted(failed), sorted(names[m] for m in pending)


def _queries_of(folder: Path) -> list[Query]:
    path = folder / "queries.jsonl"
    return parse_queries(path.read_text()) if path.is_file() else []


def evaluate(*, url: str, auth_host: str, corpus: Path, also: Sequence[Path], wait_s: float) -> dict[str, Any]:
    """Upload the corpus (and distractors), run its queries and theirs, and return every figure."""
    queries = _queries_of(corpus) + [q for folder in also for q in _queries_of(folder)]
    own = {p.name for p in media_files(corpus)}
    files = media_files(corpus) + [p for folder in also for p in media_files(folder)]
    client = Client(url=url, auth_host=auth_host)
    sample_alone: list[QueryScore] = []
    scores: dict[str, list[QueryScore]] = {"sample": [], "weak": [], "none": []}
    empty = 0
    per_query: list[dict[str, Any]] = []
    latencies: list[float] = []
    try:
        started = time.monotonic()
        names = {client.upload(path): path.name for path in files}
        failed, pending = _wait(client, names, wait_s=wait_s)
        ingest_s = time.monotonic() - started
        for query in queries:
            status, hits, elapsed_ms = client.search(query.text)
            latencies.append(elapsed_ms)
            figures = score(query, hits)
            scores.setdefault(query.set, []).append(figures)
            if query.set == "sample":
                sample_alone.append(score(query, [h for h in hits if h.filename in own]))
            if query.set == "none" and not hits:
                empty += 1
            per_query.append(
                {
                    "query": query.text,
                    "set": query.set,
                    "status": status,
                    f"recall@{TOP_K}": round(figures.recall_at_k, 3),
                    "reciprocal_rank": round(figures.reciprocal_rank, 3),
                    "segment_hits": f"{figures.segment_hits}/{figures.segments}",
                    "top": list(figures.top),
                    "scores": [h.score for h in hits[:TOP_K]],
                    "relevant": sorted(query.relevant),
                }
            )
    finally:
        client.close()
    latencies.sort()
    none = len(scores["none"])
    return {
        **summarise(sample_alone),
        "with_distractors": {k: v for k, v in summarise(scores["sample"]).items() if k not in ("segments",)},
        "weak_answer": {k: v for k, v in summarise(scores["weak"]).items() if k not in ("segment_hits", "segments")},
        "no_answer": {"queries": none, "rate": round(empty / none, 3) if none else None},
        "files": len(files),
        "distractors": len(files) - len(own),
        "failed": failed,
        "still_pending": pending,
        "ingest_s": round(ingest_s, 1),
        "search_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "per_query": per_query,
    }


@contextmanager
def _throwaway_stack() -> Iterator[tuple[str, str]]:
    """A whole Trove on free loopback ports in a temp dir; yields (gateway URL, emulator host:port)."""
    from trove_stack.infra import running_infra, running_services
    from trove_stack.services import wait_gateway_ready

    with running_infra() as infra, running_services(infra, overrides=OVERRIDES):
        wait_gateway_ready(infra.config)
        yield infra.config.gateway_url, infra.auth_emulator_host


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/search_eval.py", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEV_MEDIA, help="folder with queries.jsonl")
    parser.add_argument("--url", help="a running Trove's gateway (default: start a throwaway stack)")
    parser.add_argument("--auth", default="127.0.0.1:9099", help="its auth emulator, host:port (with --url)")
    parser.add_argument(
        "--also", type=Path, action="append", help="a folder of distractors; repeatable (default: samples/distractors)"
    )
    parser.add_argument("--no-distractors", action="store_true", help="the sample corpus alone")
    parser.add_argument("--wait", type=float, default=900.0, help="seconds to wait for analysis (900)")
    args = parser.parse_args(argv)
    args.also = [] if args.no_distractors else (args.also if args.also is not None else [DISTRACTORS])
    for folder in [args.corpus, *args.also]:
        if not folder.is_dir():
            parser.error(f"not a folder: {folder}")
    if not (args.corpus / "queries.jsonl").is_file():
        parser.error(f"{args.corpus} has no queries.jsonl")
    if args.url:
        figures = evaluate(url=args.url, auth_host=args.auth, corpus=args.corpus, also=args.also, wait_s=args.wait)
    else:
        with _throwaway_stack() as (url, auth_host):
            figures = evaluate(url=url, auth_host=auth_host, corpus=args.corpus, also=args.also, wait_s=args.wait)
    print(json.dumps(figures, indent=2))
    return 0 if not figures["failed"] and not figures["still_pending"] else 1


if __name__ == "__main__":
    sys.exit(main())
