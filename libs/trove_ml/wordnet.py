"""Synonyms, broader terms and gloss of a WordNet 3.0 noun synset (e.g. an ImageNet class id) from Debian's files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

DEFAULT_DICT_DIR = Path("/usr/share/wordnet")
_WNID = re.compile(r"n(\d{8})")
# Pointer symbols of a noun's hypernyms: a class ("@": tabby -> domestic cat) or, for a named thing, its kind
# ("@i": Mississippi -> river).
_HYPERNYM_POINTERS = frozenset({"@", "@i"})
# WordNet's top nouns and the layer under them. Every photo subject is an entity, an object and a whole, and every
# animal an organism and a living thing, so as search terms they would match everything and tell nothing. The walk
# up stops at them; what lies above them is more abstract still.
_TOO_ABSTRACT = frozenset(
    {
        1740,  # entity
        1930,  # physical entity
        2137,  # abstraction, abstract entity
        2452,  # thing
        2684,  # object, physical object
        3553,  # whole, unit
        4258,  # living thing, animate thing
        4475,  # organism, being
        7347,  # causal agent, cause, causal agency
        19128,  # natural object
        19613,  # substance (a kind of matter)
        20090,  # substance (the stuff a thing is made of)
        20827,  # matter
        21939,  # artifact, artefact
        23100,  # psychological feature
        24264,  # attribute
        31264,  # group, grouping
        3575240,  # instrumentality, instrumentation (jargon for any man-made means: cars, cups, cables)
        3892891,  # part, portion (of an artifact)
        13809207,  # part, portion, component part, component, constituent (a relation)
        15046900,  # solid (matter in that state: reached from "food" for every fruit and dish)
    }
)


@dataclass(frozen=True, slots=True)
class WordNetTerms:
    """Words for one synset: all its lemmas, the first lemma of each hypernym (nearest first) and its definition."""

    synonyms: list[str] = field(default_factory=list)
    broader: list[str] = field(default_factory=list)
    gloss: str = ""


@dataclass(frozen=True, slots=True)
class _Synset:
    lemmas: list[str]
    hypernyms: list[int]
    gloss: str


class WordNet:
    """Reads noun synsets from WordNet 3.0's data.noun as needed, each line once, by seeking to its byte offset.

    Args:
        dict_dir: the folder of WordNet's database files; Debian's package wordnet-base installs them here.
    """

    def __init__(self, dict_dir: Path | str = DEFAULT_DICT_DIR) -> None:
        self._data_noun = Path(dict_dir) / "data.noun"
        if not self._data_noun.is_file():
            raise FileNotFoundError(
                f"WordNet's noun database {self._data_noun} is missing; install the Debian package wordnet-base"
            )
        # Parsed synsets by offset, at most WordNet's 82,115 nouns. Threads may parse the same line twice and store
        # equal values; a dict assignment is atomic, so no lock is needed.
        self._synsets: dict[int, _Synset] = {}

    def terms(self, wnid: str, *, max_depth: int = 6) -> WordNetTerms:
        """Terms for a noun synset id like "n02123045" (tabby cat); empty terms for an id WordNet does not have.

        Args:
            wnid: "n" and the synset's 8-digit byte offset in data.noun, as ImageNet names its classes.
            max_depth: how many hypernym levels to climb (each level may have several hypernyms).
        """
        match = _WNID.fullmatch(wnid)
        if match is None:
            return WordNetTerms()
        # One handle per call rather than one kept open: nothing to close or share between threads.
        with self._data_noun.open("rb") as data:
            synset = self._synset(data, int(match.group(1)))
            if synset is None:
                return WordNetTerms()
            broader = self._broader(data, synset, max_depth)
        synonyms = _unique(synset.lemmas)
        return WordNetTerms(synonyms=synonyms, broader=_unique(broader, skip=set(synonyms)), gloss=synset.gloss)

    def _broader(self, data: BinaryIO, synset: _Synset, max_depth: int) -> list[str]:
        """The hypernyms' names, breadth first, so that a second parent ("domestic animal") comes early too.

        Only each one's first lemma, its most used name: the rest are often rare or misleading as search terms
        ("commodity, trade good, good"; "animal, beast, brute, fauna").
        """
        names: list[str] = []
        seen: set[int] = set()
        level = synset.hypernyms
        for _ in range(max_depth):
            next_level: list[int] = []
            for offset in level:
                if offset in seen or offset in _TOO_ABSTRACT:
                    continue
                seen.add(offset)
                hypernym = self._synset(data, offset)
                if hypernym is not None:
                    names.append(hypernym.lemmas[0])
                    next_level += hypernym.hypernyms
            level = next_level
        return names

    def _synset(self, data: BinaryIO, offset: int) -> _Synset | None:
        synset = self._synsets.get(offset)
        if synset is None:
            data.seek(offset)
            synset = _parse(data.readline().decode("utf-8", errors="replace"), offset)
            if synset is not None:  # unknown ids are not kept, so made-up ones cannot grow the cache
                self._synsets[offset] = synset
        return synset


def _parse(line: str, offset: int) -> _Synset | None:
    """One data.noun line (WordNet's wndb(5) format), or None when offset is not where a noun synset starts.

    synset_offset lex_filenum ss_type w_cnt(2 hex digits) [word lex_id]... p_cnt(3 digits)
    [pointer_symbol synset_offset pos source/target(4 hex digits)]... | gloss
    """
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    # Any other offset lands inside a line (or the licence at the top), which never starts with its own offset.
    if len(fields) < 4 or fields[0] != f"{offset:08d}" or fields[2] != "n":
        return None
    words = int(fields[3], 16)
    lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(words)]
    pointers_at = 4 + 2 * words + 1
    hypernyms = [
        int(fields[at + 1])
        for at in range(pointers_at, pointers_at + 4 * int(fields[pointers_at - 1]), 4)
        if fields[at] in _HYPERNYM_POINTERS and fields[at + 2] == "n"
    ]
    return _Synset(lemmas=lemmas, hypernyms=hypernyms, gloss=gloss.strip())


def _unique(words: list[str], *, skip: set[str] | None = None) -> list[str]:
    seen = set(skip or ())
    out: list[str] = []
    for word in words:
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out
