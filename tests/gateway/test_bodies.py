"""Edge checks of request data that need no server: JSON depth before parsing, query parameters by model."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from trove_common.errors import InvalidArgumentError
from trove_gateway.bodies import SearchQuery, ascii_int, check_text, json_depth_exceeds, parse_query


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(b'{"a": [[1, 2], {"b": 3}]}', 3)
    assert json_depth_exceeds(b'{"a": [[1, 2], {"b": [3]}]}', 3)
    assert not json_depth_exceeds(b'{"a": "[[[[[[[[[[{{{{{{{"}', 1)
    assert not json_depth_exceeds(b'{"a": "\\\\\\"[[[[[["}', 1)  # escaped quote and backslash stay inside
    assert json_depth_exceeds(b"[" * 5000 + b"]" * 5000, 32)


def test_integers_are_ascii_digits() -> None:
    assert ascii_int("123") and not ascii_int("١٢٣") and not ascii_int("²") and not ascii_int("1" * 21)
    with pytest.raises(InvalidArgumentError, match="limit must be an integer"):
        parse_query(QueryParams("q=a&limit=%D9%A1"), SearchQuery)


def test_query_model_reads_lists_aliases_and_ranges() -> None:
    query = parse_query(QueryParams("q=cat&kind=image,video&kind=audio&from=2024-01-01&limit=5"), SearchQuery)
    assert query.kind == ["image", "video", "audio"] and query.date_from == "2024-01-01" and query.limit == 5
    for bad, field in (("q=cat&limit=101", "limit"), ("q=cat&limit=", "limit"), ("q=%20", "q"), ("q=a&q=b", "q")):
        with pytest.raises(InvalidArgumentError, match=field):
            parse_query(QueryParams(bad), SearchQuery)


def test_text_without_nul_or_lone_surrogates() -> None:
    assert check_text("caf\u00e9 \U0001f600", name="q")
    for bad in ("a\x00b", "\ud800", "x\udfff"):
        with pytest.raises(InvalidArgumentError):
            check_text(bad, name="q")
