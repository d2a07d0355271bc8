"""Word tables of query understanding, one module per language; another language is another table."""

from __future__ import annotations

from trove_search.lexicons import en
from trove_search.lexicons.lexicon import Lexicon

LEXICONS: dict[str, Lexicon] = {"en": en.LEXICON}

__all__ = ["LEXICONS", "Lexicon"]
