"""The search-quality evaluator's scoring (bench/search_eval.py) and the sample corpus it reads; no stack needed."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import pytest
from support import DEV_MEDIA, REPO


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("search_eval", REPO / "bench" / "search_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


ev = _load()


def hits(*names: str) -> list[object]:
    return [ev.Hit(filename=name) for name in names]


def test_recall_counts_relevant_files_in_the_top_five_only() -> None:
    relevant = frozenset({"cat.png", "holiday.mp4"})
    assert ev.recall_at(hits("cat.png", "a", "b", "c", "d", "holiday.mp4"), relevant) == 0.5
    assert ev.recall_at(hits("holiday.mp4", "cat.png"), relevant) == 1.0
    assert ev.recall_at(hits("holiday.mp4", "holiday.mp4"), relevant) == 0.5  # a file found twice counts once
    assert ev.recall_at([], relevant) == 0.0
    assert ev.recall_at(hits("a", "cat.png"), relevant, k=1) == 0.0


def test_reciprocal_rank_is_of_the_first_relevant_hit() -> None:
    relevant = frozenset({"rocket.jpg", "astronaut.png"})
    assert ev.reciprocal_rank(hits("rocket.jpg"), relevant) == 1.0
    assert ev.reciprocal_rank(hits("a", "b", "astronaut.png", "rocket.jpg"), relevant) == pytest.approx(1 / 3)
    assert ev.reciprocal_rank(hits("a", "b"), relevant) == 0.0
    assert ev.reciprocal_rank([], relevant) == 0.0


def test_a_segment_hit_needs_the_first_hit_of_the_file_to_overlap_the_span() -> None:
    span = (3.82, 7.64)
    assert ev.segment_hit([ev.Hit("v.mp4", 4.0, 5.0)], "v.mp4", span)
    assert ev.segment_hit([ev.Hit("v.mp4", 0.0, 4.0)], "v.mp4", span)  # partial overlap
    assert not ev.segment_hit([ev.Hit("v.mp4", 0.0, 3.82)], "v.mp4", span)  # touching ends do not overlap
    assert not ev.segment_hit([ev.Hit("v.mp4", 7.64, 11.0)], "v.mp4", span)
    assert not ev.segment_hit([ev.Hit("v.mp4")], "v.mp4", span)  # no time span (an image-like answer)
    assert not ev.segment_hit([ev.Hit("other.mp4", 4.0, 5.0)], "v.mp4", span)
    # Only the file's best (first) hit counts, not a lower one that happens to be right.
    assert not ev.segment_hit([ev.Hit("v.mp4", 0.0, 1.0), ev.Hit("v.mp4", 4.0, 5.0)], "v.mp4", span)


def test_score_and_summary() -> None:
    cat = ev.Query(text="a cat", relevant=frozenset({"cat.png", "v.mp4"}), segments={"v.mp4": (7.64, 11.84)})
    lawn = ev.Query(text="green lawn", relevant=frozenset({"grass.png"}))
    first = ev.score(cat, [ev.Hit("x.png"), ev.Hit("v.mp4", 8.0, 9.0), ev.Hit("cat.png")])
    second = ev.score(lawn, hits("a", "b", "c", "d", "e", "grass.png"))
    assert (first.recall_at_k, first.reciprocal_rank, first.segment_hits, first.segments) == (1.0, 0.5, 1, 1)
    assert first.top == ("x.png", "v.mp4", "cat.png")
    assert (second.recall_at_k, second.reciprocal_rank) == (0.0, pytest.approx(1 / 6))
    summary = ev.summarise([first, second])
    assert summary == {"queries": 2, "recall@5": 0.5, "mrr": 0.333, "segment_hits": 1, "segments": 1}
    assert ev.summarise([]) == {"queries": 0, "recall@5": 0.0, "mrr": 0.0, "segment_hits": 0, "segments": 0}


def test_hits_of_a_search_response() -> None:
    body = {
        "results": [
            {"filename": "holiday.mp4", "segment": {"kind": "scene", "start_s": 3.8, "end_s": 7.6}},
            {"filename": "coffee.png", "segment": None},
            {"filename": "menu.png"},
        ]
    }
    assert ev.hits_of(body) == [ev.Hit("holiday.mp4", 3.8, 7.6), ev.Hit("coffee.png"), ev.Hit("menu.png")]
    assert ev.hits_of({}) == []


def test_the_sample_corpus_is_complete() -> None:
    """Every file a query names is in the corpus, and every file has its source written down."""
    queries = ev.parse_queries((DEV_MEDIA / "queries.jsonl").read_text())
    names = {p.name for p in ev.media_files(DEV_MEDIA)}
    assert len(queries) == 12 and len(names) == 15
    assert {"queries.jsonl", "transcripts.json", "SOURCES.md"}.isdisjoint(names)
    for query in queries:
        assert query.relevant <= names, query.text
        assert set(query.segments) <= query.relevant, query.text
    cat = next(q for q in queries if q.text == "a cat")
    assert cat.segments == {"holiday.mp4": (7.64, 11.84)}
    sources = (DEV_MEDIA / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in names)
    assert set(json.loads((DEV_MEDIA / "transcripts.json").read_text())) <= names


def test_content_types_are_ones_trove_accepts() -> None:
    from trove_common.media_types import kind_of

    for path in ev.media_files(DEV_MEDIA):
        assert kind_of(ev.content_type(path)) is not None, path.name


def test_the_distractors_are_complete_and_answer_no_sample_query() -> None:
    """Every distractor has its source; its queries are weak-answer or no-answer ones over its own files only."""
    folder = REPO / "samples" / "distractors"
    names = {p.name for p in ev.media_files(folder)}
    queries = ev.parse_queries((folder / "queries.jsonl").read_text())
    assert len(names) == 40 and sum(p.stat().st_size for p in folder.iterdir()) < 4_000_000
    sources = (folder / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in names)
    assert {q.set for q in queries} == {"weak", "none"}
    for query in queries:
        assert query.relevant <= names, query.text
        assert bool(query.relevant) == (query.set == "weak"), query.text
    for query in ev.parse_queries((DEV_MEDIA / "queries.jsonl").read_text()):
        assert query.set == "sample" and not query.relevant & names
    assert ev.hits_of({"results": [{"filename": "a.jpg", "score": 0.5}]}) == [ev.Hit("a.jpg", score=0.5)]
