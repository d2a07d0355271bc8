"""How a picture's vector should be made, and where unrelated scores lie: the study behind docs/relevance.md.

Runs offline on the repo's files (no stack): classifies every picture of samples/media and samples/distractors
with the packaged ImageNet classifier, and compares two ways of putting a picture into the text embedding space:

- "label sentence": today's description (describe.picture_text: top labels, broader WordNet terms, pixel words),
  embedded as one sentence;
- "ConSE" (Norouzi et al., 2014, "Zero-shot learning by convex combination of semantic embeddings"): the
  classifier's top-T probabilities weighting the embeddings of their label names, normalised.

For each it prints recall@5 and MRR of picture-only queries (the sample corpus' picture queries and the weak-answer
queries over the distractors) ranked by cosine among all pictures, and the null distribution of cosine similarity:
the scores of every (query, picture) pair where the picture does not answer the query, and of the no-answer
queries. The same null figures for the words people said or wrote (transcripts, OCR) calibrate text segments.

    bench/picture_vectors.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "samples" / "media"
DISTRACTORS = REPO / "samples" / "distractors"
PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
TEXT_PICTURES = ("invoice_printing.png", "menu_cafe.png", "page.png")  # answered by their words, not their look
CONSE_TOP = 5
K = 5


def _queries(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines() if line.strip()]


def _pictures() -> list[Path]:
    found = [p for p in sorted(MEDIA.iterdir()) if p.suffix in PICTURE_SUFFIXES and p.name not in TEXT_PICTURES]
    return found + sorted(p for p in DISTRACTORS.iterdir() if p.suffix in PICTURE_SUFFIXES)


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    unit: npt.NDArray[np.float32] = rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)
    return unit


def _ranks(sims: npt.NDArray[np.float32], names: Sequence[str], queries: Sequence[dict[str, Any]]) -> dict[str, float]:
    recalls, rrs = [], []
    for row, query in zip(sims, queries, strict=True):
        relevant = set(query["relevant"]) & set(names)
        order = [names[i] for i in np.argsort(-row)]
        recalls.append(len(set(order[:K]) & relevant) / len(relevant))
        rrs.append(next((1.0 / r for r, name in enumerate(order, start=1) if name in relevant), 0.0))
    return {f"recall@{K}": round(float(np.mean(recalls)), 3), "mrr": round(float(np.mean(rrs)), 3)}


def _null(
    sims: npt.NDArray[np.float32], names: Sequence[str], queries: Sequence[dict[str, Any]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Figures of the unrelated pairs, and the best score of each answered vs no-answer query."""
    unrelated = [
        s
        for row, q in zip(sims, queries, strict=True)
        for n, s in zip(names, row, strict=True)
        if n not in q["relevant"]
    ]
    values = np.array(unrelated)
    best_answered = [float(row.max()) for row, q in zip(sims, queries, strict=True) if set(q["relevant"]) & set(names)]
    best_none = [float(row.max()) for row, q in zip(sims, queries, strict=True) if not q["relevant"]]
    return (
        {
            "pairs": len(values),
            "mean": round(float(values.mean()), 4),
            "std": round(float(values.std()), 4),
            "p95": round(float(np.quantile(values, 0.95)), 4),
            "p99": round(float(np.quantile(values, 0.99)), 4),
            "max": round(float(values.max()), 4),
        },
        {
            "answered_best_median": round(float(np.median(best_answered)), 4) if best_answered else 0.0,
            "answered_best_min": round(min(best_answered), 4) if best_answered else 0.0,
            "no_answer_best_median": round(float(np.median(best_none)), 4) if best_none else 0.0,
            "no_answer_best_max": round(max(best_none), 4) if best_none else 0.0,
        },
    )


def study() -> dict[str, Any]:
    import torch

    from trove_analysis import describe
    from trove_analysis.local import decode_image
    from trove_analysis.stages.picture import Label, Picture, Pixels, conse_phrase
    from trove_ml import ImageClassifier
    from trove_ml.ocr import TextReader
    from trove_ml.pixels import describe_pixels
    from trove_ml.text_embedder import TextEmbedder
    from trove_ml.wordnet import WordNet

    torch.set_num_threads(1)
    classifier, wordnet, embedder = ImageClassifier(), WordNet(), TextEmbedder()
    pictures: list[Picture] = []
    paths = _pictures()
    for path in paths:
        image = decode_image(path)
        labels = tuple(
            Label(name=x.name, score=x.score, wnid=x.wnid, broader=tuple(wordnet.terms(x.wnid).broader))
            for x in classifier.classify(image, top_k=CONSE_TOP)
        )
        pictures.append(Picture(labels=labels, pixels=Pixels(words=tuple(describe_pixels(image).words()))))
    names = [p.name for p in paths]
    sentence = embedder.embed([describe.picture_text(p) for p in pictures])
    conse_rows = []
    for picture in pictures:
        phrases = [conse_phrase(x) for x in picture.labels[:CONSE_TOP]]
        weights = np.array([x.score for x in picture.labels[:CONSE_TOP]], dtype=np.float32)
        conse_rows.append((weights[:, None] * embedder.embed(phrases)).sum(axis=0))
    conse = _unit(np.stack(conse_rows))

    picture_queries = [
        q for q in _queries(MEDIA) + _queries(DISTRACTORS) if not q["relevant"] or set(q["relevant"]) & set(names)
    ]
    picture_queries = [{**q, "relevant": [n for n in q["relevant"] if n in names]} for q in picture_queries]
    answered = [q for q in picture_queries if q["relevant"]]
    q_vectors = embedder.embed([q["query"] for q in picture_queries])
    a_vectors = embedder.embed([q["query"] for q in answered])
    out: dict[str, Any] = {"pictures": len(names), "picture_queries": len(answered)}
    for method, vectors in (("label_sentence", sentence), ("conse", conse)):
        null, best = _null(q_vectors @ vectors.T, names, picture_queries)
        out[method] = {
            "sample_queries": _ranks(
                a_vectors[: _n_sample(answered)] @ vectors.T, names, answered[: _n_sample(answered)]
            ),
            "weak_answer_queries": _ranks(
                a_vectors[_n_sample(answered) :] @ vectors.T, names, answered[_n_sample(answered) :]
            ),
            "all": _ranks(a_vectors @ vectors.T, names, answered),
            "null": null,
            **best,
        }
    # Words people said or wrote: transcripts and OCR, scored against every query that they do not answer.
    transcripts = json.loads((MEDIA / "transcripts.json").read_text())
    reader = TextReader()
    for name in TEXT_PICTURES:
        transcripts[name] = reader.read(decode_image(MEDIA / name)).text
    text_names = list(transcripts)
    all_queries = _queries(MEDIA) + _queries(DISTRACTORS)
    text_sims = embedder.embed([q["query"] for q in all_queries]) @ embedder.embed(list(transcripts.values())).T
    null, best = _null(text_sims, text_names, all_queries)
    out["spoken_and_written"] = {"null": null, **best}
    return out


def _n_sample(answered: Sequence[dict[str, Any]]) -> int:
    return sum(1 for q in answered if "set" not in q)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/picture_vectors.py", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(json.dumps(study(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
