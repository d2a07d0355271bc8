"""Redis key prefixes of the search service, in one place."""

from __future__ import annotations

# INCR'd whenever a user's index changes; part of every cached page key, so old pages are never served.
INDEX_VERSION = "trove:search:version:"
# Query embeddings, by embedding space and query text hash.
QUERY_VECTOR = "trove:search:qvec:"
# Ranked result lists (MessagePack), by user, index version, embedding space and request hash.
RESULT_PAGE = "trove:search:results:"
