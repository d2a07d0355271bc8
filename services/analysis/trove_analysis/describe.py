"""Searchable text for each segment, composed from what the stages saw, and the caption people read.

A segment's text is embedded and matched, so it stays short and in plain words: the best labels with a few
broader terms (a "tabby" is also a "cat"), what the pixels say, whether there are faces. Text found in a picture
becomes a segment of its own, so a page of OCR does not drown the picture's description.

A picture's caption is what a result shows instead: one readable line ("A tabby cat; 2 people; text: “Open
daily”") built from the same evidence, naming only the best guess, never the list of labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trove_analysis.models import SegmentText

if TYPE_CHECKING:
    from trove_analysis.stages.picture import Label, Picture

MIN_LABEL_SCORE = 0.05  # other labels below this are noise; the top label is always kept
BROADER_TOP = 3  # broader terms of the top label...
BROADER_OTHER = 1  # ...and of each other kept label
MIN_OCR_WORDS = 3  # fewer OCR words on a picture are usually noise (a sign, a logo)
MAX_TEXT_CHARS = 4000
CAPTION_TEXT_CHARS = 60  # of a picture's own text quoted in its caption
STYLE_NOUNS = {"document": "A document", "screenshot": "A screenshot"}


def _kept(labels: tuple[Label, ...]) -> list[Label]:
    return [label for i, label in enumerate(labels) if i == 0 or label.score >= MIN_LABEL_SCORE]


def _label_phrases(labels: tuple[Label, ...]) -> list[str]:
    phrases: list[str] = []
    for i, label in enumerate(_kept(labels)):
        names = [name.strip() for name in label.name.split(",") if name.strip()]
        broader = label.broader[: BROADER_TOP if i == 0 else BROADER_OTHER]
        for phrase in [*names[:2], *broader]:
            if phrase not in phrases:
                phrases.append(phrase)
    return phrases


def picture_text(picture: Picture) -> str:
    """One plain sentence about a picture: labels, broader terms, pixel words, faces."""
    phrases = _label_phrases(picture.labels)
    parts = [f"a photo of {phrases[0]}" if phrases else "a picture"]
    if len(phrases) > 1:
        parts.append(", ".join(phrases[1:]))
    faces = len(picture.faces)
    if faces:
        parts.append("a person's face" if faces == 1 else f"{faces} people's faces")
    if picture.pixels.words:
        parts.append(", ".join(picture.pixels.words))
    return "; ".join(parts)


def picture_keywords(picture: Picture) -> str:
    """Every name and broader term of the kept labels, for full-text search only (too many would blur a vector)."""
    words: list[str] = []
    for label in _kept(picture.labels):
        words += [name.strip() for name in label.name.split(",")] + list(label.broader)
    return " ".join(dict.fromkeys(w for w in words if w))


def subject(picture: Picture) -> str:
    """The best label's most telling name ("tabby cat" of "tabby, tabby cat"), "" when there is no label."""
    if not picture.labels:
        return ""
    names = [name.strip() for name in picture.labels[0].name.split(",") if name.strip()]
    if not names:
        return ""
    # A later synonym that spells the first one out ("tabby" -> "tabby cat") reads better on its own.
    longer = [n for n in names[1:] if names[0].lower() in n.lower().split()]
    return longer[0] if longer else names[0]


def _with_article(noun: str) -> str:
    return f"{'An' if noun[0].lower() in 'aeiou' else 'A'} {noun}"


def caption(picture: Picture) -> str:
    """One readable line about a picture for results: what it shows, who is in it, what it says."""
    noun = subject(picture)
    if picture.pixels.style in STYLE_NOUNS and (not noun or picture.labels[0].score < MIN_LABEL_SCORE * 4):
        head = STYLE_NOUNS[picture.pixels.style]
    elif noun:
        head = _with_article(noun)
    else:
        head = "A picture"
    if picture.pixels.black_and_white and picture.pixels.style == "photo":
        head += " in black and white"
    parts = [head]
    faces = len(picture.faces)
    if faces:
        parts.append("a person" if faces == 1 else f"{faces} people")
    if on_it := ocr_text(picture):
        words = " ".join(on_it.split())
        quoted = words if len(words) <= CAPTION_TEXT_CHARS else words[:CAPTION_TEXT_CHARS].rsplit(" ", 1)[0] + "…"
        parts.append(f"text: “{quoted}”")
    return "; ".join(parts)


def ocr_text(picture: Picture) -> str:
    """The picture's OCR text when it has enough words to be more than noise, cut to MAX_TEXT_CHARS."""
    text = picture.ocr.text.strip()
    return text[:MAX_TEXT_CHARS] if len(text.split()) >= MIN_OCR_WORDS else ""


def spoken_and_written(segments: list[SegmentText]) -> str:
    """The words people said or wrote (not our own descriptions), for entity and key-phrase analysis."""
    return "\n".join(s.text for s in segments if s.kind in ("speech", "text", "page"))
