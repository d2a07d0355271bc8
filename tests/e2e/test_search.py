"""Search finds the moment: hybrid retrieval, filters and order, cut-off, cache freshness, history, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from support import DEV_MEDIA, Api

NewApi = Callable[[], Awaitable[Api]]

CORPUS = {
    "chelsea.png": "image/png",
    "grace_hopper.jpg": "image/jpeg",
    "menu_cafe.png": "image/png",
    "weather_report.wav": "audio/wav",
    "pasta_recipe.mp3": "audio/mpeg",
}


@pytest.fixture(scope="module")
async def library(new_api_module: NewApi) -> tuple[Api, dict[str, str]]:
    """One user with a small mixed library, analysed."""
    api = await new_api_module()
    ids = {name: await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype) for name, ctype in CORPUS.items()}
    for media_id in ids.values():
        assert (await api.wait_done(media_id, timeout_s=300))["status"] == "completed"
    return api, ids


async def _names(api: Api, q: str, **params: object) -> list[str]:
    response = await api.search(q, **params)
    assert response.status_code == 200, response.text
    return [r["filename"] for r in response.json()["results"]]


async def test_a_scan_is_found_by_a_paraphrase_with_a_highlighted_snippet(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    results = (await api.search("which soups can I get for lunch")).json()["results"]
    assert results[0]["filename"] == "menu_cafe.png"
    assert results[0]["segment"]["kind"] == "text"
    assert "<mark>" in results[0]["segment"]["snippet"]
    assert 0 < results[0]["score"] <= 1


async def test_filters_and_sort_change_results_as_documented(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    q = "rain, tomato sauce, a cat, soup"
    everything = set(await _names(api, q, limit=20))
    assert {"weather_report.wav", "pasta_recipe.mp3", "chelsea.png"} <= everything
    assert set(await _names(api, q, kind="audio")) == {"weather_report.wav", "pasta_recipe.mp3"} & everything
    assert set(await _names(api, q, kind="image,video")) == everything - {"weather_report.wav", "pasta_recipe.mp3"}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await _names(api, q, **{"from": tomorrow}) == []
    assert set(await _names(api, q, to=tomorrow)) == everything
    assert await _names(api, q, date_field="taken", **{"from": "2000-01-01"}) == []  # no EXIF dates here
    # A query with a convincing answer among the faces (a two-topic one may not clear the calibrated cut-off).
    faces = await _names(api, "woman in military uniform", has_faces="true")
    assert faces == ["grace_hopper.jpg"]
    assert "grace_hopper.jpg" not in await _names(api, "a woman in uniform, a cat", has_faces="false")
    by_date = (await api.search(q, sort="date", limit=20)).json()["results"]
    uploaded = [r["created_at"] for r in by_date]
    assert uploaded == sorted(uploaded, reverse=True)
    english = set(await _names(api, q, language="en"))
    assert {"weather_report.wav", "pasta_recipe.mp3"} <= english and "chelsea.png" not in english


async def test_pages_follow_the_cursor(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    q = "rain, tomato sauce, a cat, soup"
    everything = await _names(api, q, limit=20)
    first = (await api.search(q, limit=2)).json()
    second = (await api.search(q, limit=2, cursor=first["next_cursor"])).json()
    assert [r["filename"] for r in first["results"] + second["results"]] == everything[:4]
    other = (await api.search("something else", cursor=first["next_cursor"])).json()
    assert other["error"]["code"] == "invalid_argument"


async def test_more_like_this(library: tuple[Api, dict[str, str]]) -> None:
    api, ids = library
    response = await api.request("GET", f"/api/v1/media/{ids['weather_report.wav']}/similar")
    assert response.status_code == 200
    names = [r["filename"] for r in response.json()["results"]]
    assert "weather_report.wav" not in names and names
    assert (await api.request("GET", "/api/v1/media/not-a-uuid/similar")).status_code == 400


async def test_nonsense_returns_nothing(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    assert await _names(api, "qwxz zzkj") == []


async def test_upload_and_delete_change_the_next_identical_search(new_api: NewApi) -> None:
    api = await new_api()
    assert await _names(api, "cup of coffee") == []
    media_id = await api.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
    await api.wait_done(media_id)
    assert await _names(api, "cup of coffee") == ["coffee.png"]
    assert (await api.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 204
    assert await _names(api, "cup of coffee") == []


async def test_history_is_kept_per_user_and_can_be_deleted(
    library: tuple[Api, dict[str, str]], new_api: NewApi
) -> None:
    api, _ = library
    await api.search("history probe one")
    await api.search("history probe two", kind="audio")
    items: list[dict[str, object]] = []
    for _ in range(50):  # written off the request path
        items = (await api.request("GET", "/api/v1/search/history")).json()["items"]
        if items and items[0]["query"] == "history probe two":
            break
        await asyncio.sleep(0.1)
    assert [i["query"] for i in items[:2]] == ["history probe two", "history probe one"]
    assert items[0]["filters"] == {"kinds": ["audio"]}
    stranger = await new_api()
    assert (await stranger.request("GET", "/api/v1/search/history")).json()["items"] == []
    assert (await stranger.request("DELETE", "/api/v1/search/history")).status_code == 204
    assert (await api.request("GET", "/api/v1/search/history")).json()["items"]
    assert (await api.request("DELETE", "/api/v1/search/history")).status_code == 204
    assert (await api.request("GET", "/api/v1/search/history")).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 513}, "q"),
        ({"q": "cat", "limit": "0"}, "limit"),
        ({"q": "cat", "limit": "101"}, "limit"),
        ({"q": "cat", "limit": "ten"}, "limit"),
        ({"q": "cat", "cursor": "!!!"}, "cursor"),
        ({"q": "cat", "kind": "hologram"}, "kind"),
        ({"q": "cat", "from": "yesterday"}, "from"),
        ({"q": "cat", "sort": "random"}, "sort"),
        ({"q": "cat", "has_faces": "maybe"}, "has_faces"),
        ({"q": "cat", "language": "english"}, "language"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(
    library: tuple[Api, dict[str, str]], params: dict[str, str], field: str
) -> None:
    api, _ = library
    response = await api.request("GET", "/api/v1/search", params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


@pytest.mark.parametrize("q", ['"', "'", "&|!:*()", "'); DROP TABLE x; --", "cat & !dog", '"unclosed phrase', "<b>"])
async def test_query_syntax_is_just_text(library: tuple[Api, dict[str, str]], q: str) -> None:
    api, _ = library
    response = await api.search(q)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["results"], list)


async def test_kind_words_filter_and_say_so(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    body = (await api.search("photos of rain, tomato sauce, a cat, soup")).json()
    assert body["understood"]["kinds"] == ["image"]
    assert body["understood"]["text"] == "rain, tomato sauce, a cat, soup"
    assert body["results"] and {r["kind"] for r in body["results"]} == {"image"}
    assert "chelsea.png" in [r["filename"] for r in body["results"]]
    literal = (await api.search("photos of rain, tomato sauce, a cat, soup", literal="kinds")).json()
    assert literal["understood"]["kinds"] == [] and "photos" in literal["understood"]["text"]
    # An explicit kind wins over the words' (a query with a convincing audio answer: the cut-off is calibrated).
    explicit = (await api.search("photos of tomato sauce", kind="audio")).json()
    assert explicit["understood"]["kinds"] == []
    assert {r["kind"] for r in explicit["results"]} == {"audio"}


async def test_a_date_phrase_sets_the_range_in_the_users_time_zone(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    q = "rain, tomato sauce, a cat, soup"
    everything = set(await _names(api, q, limit=20))
    yesterday = (await api.search(f"{q} from yesterday", tz="Pacific/Kiritimati")).json()
    assert yesterday["understood"]["from"].endswith("+14:00") and yesterday["understood"]["to"]
    assert yesterday["understood"]["text"] == q
    assert yesterday["results"] == []
    this_week = (await api.search(f"{q} in the past week", tz="Europe/Paris", limit=20)).json()
    assert this_week["understood"]["from"] and this_week["understood"]["to"]
    assert everything <= {r["filename"] for r in this_week["results"]}
    bad = await api.search(q, tz="Mars/Olympus")
    assert bad.status_code == 400 and "tz" in bad.json()["error"]["message"]


async def test_a_query_without_kind_or_date_words_is_read_as_it_is(library: tuple[Api, dict[str, str]]) -> None:
    api, _ = library
    understood = (await api.search("which soups can I get for lunch")).json()["understood"]
    assert understood == {
        "kinds": [],
        "from": None,
        "to": None,
        "people": [],
        "text": "which soups can I get for lunch",
        "excluded": [],
    }


async def test_videos_about_something_returns_only_videos(new_api: NewApi) -> None:
    api = await new_api()
    for name, ctype in (("chelsea.png", "image/png"), ("holiday.mp4", "video/mp4")):
        media_id = await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype)
        assert (await api.wait_done(media_id, timeout_s=300))["status"] == "completed"
    everything = await _names(api, "a cat")
    assert {"chelsea.png", "holiday.mp4"} <= set(everything)
    body = (await api.search("videos about a cat")).json()
    assert body["understood"]["kinds"] == ["video"] and body["understood"]["text"] == "cat"
    assert [r["filename"] for r in body["results"]] == ["holiday.mp4"]
    # Nothing left but filters: every media that passes them, newest first.
    photos = (await api.search("photos")).json()
    assert photos["understood"]["kinds"] == ["image"] and photos["understood"]["text"] == ""
    assert [r["filename"] for r in photos["results"]] == ["chelsea.png"]
    today = (await api.search("everything from today", tz="UTC")).json()
    assert today["understood"]["from"] and today["understood"]["text"] == "everything"
    recent = (await api.search("videos from today", tz="UTC")).json()
    assert [r["filename"] for r in recent["results"]] == ["holiday.mp4"]


async def test_a_video_hit_shows_its_moments_frame_and_a_photo_hit_reads_as_a_line(new_api: NewApi) -> None:
    api = await new_api()
    ids = {}
    for name, ctype in (("chelsea.png", "image/png"), ("holiday.mp4", "video/mp4")):
        ids[name] = await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype)
        assert (await api.wait_done(ids[name], timeout_s=300))["status"] == "completed"
    results = {r["filename"]: r for r in (await api.search("the cat was waiting for us on the sofa")).json()["results"]}
    video = results["holiday.mp4"]["segment"]
    assert video["frame_url"] and video["frame_url"].startswith(f"/api/v1/media/{ids['holiday.mp4']}/frames/")
    frame = await api.request("GET", video["frame_url"])
    assert (
        frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg" and frame.content[:2] == b"\xff\xd8"
    )
    assert (await api.request("GET", f"/api/v1/media/{ids['holiday.mp4']}/frames/999")).status_code == 404
    assert (await api.request("GET", f"/api/v1/media/{ids['holiday.mp4']}/frames/x")).status_code == 404
    stranger = await new_api()
    assert (await stranger.request("GET", video["frame_url"])).status_code == 404  # another user's video

    photo = next(r for r in (await api.search("a cat")).json()["results"] if r["filename"] == "chelsea.png")
    snippet = photo["segment"]["snippet"]
    # "A tabby cat", say, where the indexed text lists every label and broader term ("a photo of tabby; ...").
    assert snippet[:2] in ("A ", "An") and "a photo of" not in snippet and len(snippet) < len(photo["segment"]["text"])
    assert photo["segment"]["frame_url"] is None
    felines = next(r for r in (await api.search("felines")).json()["results"] if r["filename"] == "chelsea.png")
    assert felines["segment"]["reason"] == "matched: feline", felines["segment"]
