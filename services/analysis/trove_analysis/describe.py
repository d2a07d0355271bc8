"""Searchable text for each segment, composed from what the stages saw.

A segment's text is both embedded and shown as its snippet, so it stays short and in plain words: the best
labels with a few broader terms (a "tabby" is also a "cat"), what the pixels say, whether there are faces.
Text found in a picture becomes a segment of its own, so a page of OCR does not drown the picture's description.
"""

from __future__ import annotations

from typing import Any

from trove_analysis.models import SegmentText

MIN_LABEL_SCORE = 0.05  # other labels below this are noise; the top label is always kept
BROADER_TOP = 3  # broader terms of the top label...
BROADER_OTHER = 1  # ...and of each other kept label
MIN_OCR_WORDS = 3  # fewer OCR words on a picture are usually noise (a sign, a logo)
MAX_TEXT_CHARS = 4000


def _label_phrases(labels: list[dict[str, Any]]) -> list[str]:
    kept = [label for i, label in enumerate(labels) if i == 0 or label["score"] >= MIN_LABEL_SCORE]
    phrases: list[str] = []
    for i, label in enumerate(kept):
        names = [name.strip() for name in label["name"].split(",") if name.strip()]
        broader = label.get("broader", [])[: BROADER_TOP if i == 0 else BROADER_OTHER]
        for phrase in [*names[:2], *broader]:
            if phrase not in phrases:
                phrases.append(phrase)
    return phrases


def picture_text(facts: dict[str, Any]) -> str:
    """One plain sentence about a picture: labels, broader terms, pixel words, faces."""
    phrases = _label_phrases(facts.get("labels", []))
    parts = [f"a photo of {phrases[0]}" if phrases else "a picture"]
    if len(phrases) > 1:
        parts.append(", ".join(phrases[1:]))
    faces = len(facts.get("faces", []))
    if faces:
        parts.append("a person's face" if faces == 1 else f"{faces} people's faces")
    words = facts.get("pixels", {}).get("words", [])
    if words:
        parts.append(", ".join(words))
    return "; ".join(parts)


def picture_keywords(facts: dict[str, Any]) -> str:
    """Every name and broader term of the kept labels, for full-text search only (too many would blur a vector)."""
    kept = [label for i, label in enumerate(facts.get("labels", [])) if i == 0 or label["score"] >= MIN_LABEL_SCORE]
    words: list[str] = []
    for label in kept:
        words += [name.strip() for name in label["name"].split(",")] + list(label.get("broader", []))
    return " ".join(dict.fromkeys(w for w in words if w))


def _ocr_text(facts: dict[str, Any]) -> str:
    text = str(facts.get("ocr", {}).get("text", "")).strip()
    return text[:MAX_TEXT_CHARS] if len(text.split()) >= MIN_OCR_WORDS else ""


def image_segments(facts: dict[str, Any]) -> list[SegmentText]:
    segments = [
        SegmentText(
            kind="image",
            start_s=0.0,
            end_s=0.0,
            text=picture_text(facts),
            keywords=picture_keywords(facts),
            image_vector=facts.get("image_vector"),
        )
    ]
    if text := _ocr_text(facts):
        segments.append(SegmentText(kind="text", start_s=0.0, end_s=0.0, text=text))
    return segments


def scene_segments(facts: dict[str, Any]) -> list[SegmentText]:
    segments = []
    for scene in facts.get("scenes", []):
        text = picture_text(scene)
        if on_screen := _ocr_text(scene):
            text = f"{text}; text on screen: {on_screen}"
        segments.append(
            SegmentText(
                kind="scene",
                start_s=scene["start_s"],
                end_s=scene["end_s"],
                text=text,
                keywords=picture_keywords(scene),
                image_vector=scene.get("image_vector"),
            )
        )
    return segments


def speech_segments(transcript: dict[str, Any]) -> list[SegmentText]:
    return [
        SegmentText(kind="speech", start_s=s["start_s"], end_s=s["end_s"], text=s["text"].strip())
        for s in transcript.get("segments", [])
        if s["text"].strip()
    ]


def page_segments(document: dict[str, Any]) -> list[SegmentText]:
    return [
        SegmentText(kind="page", start_s=0.0, end_s=0.0, text=page["text"][:MAX_TEXT_CHARS], page=page["number"])
        for page in document.get("pages", [])
        if page["text"].strip()
    ]


def spoken_and_written(segments: list[SegmentText]) -> str:
    """The words people said or wrote (not our own descriptions), for entity and key-phrase analysis."""
    return "\n".join(s.text for s in segments if s.kind in ("speech", "text", "page"))


def has_faces(facts: dict[str, Any]) -> bool:
    """Whether a picture, or any scene of a video, shows a face."""
    return bool(facts.get("faces")) or any(scene.get("faces") for scene in facts.get("scenes", []))
