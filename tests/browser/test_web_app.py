"""The web app in a real browser against the running stack: sign-up, uploads, library, search, player, delete."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image
from playwright.async_api import Locator, Page, Request, Response, expect
from support import DEV_MEDIA, REPO, Api, expired_token

NewPage = Callable[..., Awaitable[Page]]
Shot = Callable[[Page, str], Awaitable[Path]]

PASSWORD = "secret-pass-123"

FILES = ("chelsea.png", "weather_report.wav", "holiday.mp4")
LIBRARY_PAGE = 24  # the page size of library.js
SOFA = "the cat was waiting for us on the sofa"
# Opt-in, so a test run does not rewrite a tracked file: TROVE_DOCS_SCREENSHOTS=1 refreshes the README's picture.
DOCS_SCREENSHOT = REPO / "docs" / "screenshot-search.png"

# Records every data-state an upload row goes through, so a test can check the whole sequence, not only the end.
RECORD_UPLOAD_STATES = """() => {
  window.uploadStates = {};
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const name = m.target.dataset && m.target.dataset.filename;
      if (!name) continue;
      const seen = (window.uploadStates[name] ||= []);
      if (seen[seen.length - 1] !== m.target.dataset.state) seen.push(m.target.dataset.state);
    }
  }).observe(document.getElementById("upload-list"), {
    attributes: true, subtree: true, attributeFilter: ["data-state"],
  });
}"""

# The player's position once any seek has finished.
PLAYER_POSITION = """(v) => new Promise((resolve) => {
  if (!v.seeking) resolve(v.currentTime);
  else v.addEventListener("seeked", () => resolve(v.currentTime), { once: true });
})"""


async def reload(page: Page) -> None:
    """Reload and wait until the app has wired its controls (it reads /config.json first)."""
    await page.reload()
    await page.wait_for_selector("body[data-app=ready]", state="attached")


async def sign_up(page: Page) -> str:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Library")).to_be_visible()
    return email


def _is_search(query: str) -> Callable[[Response], bool]:
    def match(response: Response) -> bool:
        parts = urlsplit(response.url)
        return parts.path == "/api/v1/search" and parse_qs(parts.query).get("q") == [query]

    return match


async def search_for(page: Page, query: str) -> list[dict[str, Any]]:
    """Search through the page's box; returns what the API answered (the page's own request)."""
    box = page.get_by_label("Search your files")
    await box.fill(query)
    async with page.expect_response(_is_search(query)) as answer:
        await box.press("Enter")
    response = await answer.value
    assert response.status == 200, await response.text()
    await expect(page.locator("#search-status")).not_to_have_text("Searching…")
    results: list[dict[str, Any]] = (await response.json())["results"]
    return results


def card(page: Page, filename: str) -> Locator:
    return page.locator("#library-grid .card-item").filter(has_text=filename)


async def shown_results(page: Page) -> list[str]:
    names: list[str] = await page.locator("#search-results .result").evaluate_all(
        "els => els.map((e) => e.dataset.filename)"
    )
    return names


async def test_sign_up_upload_find_play_and_delete(new_page: NewPage, shot: Shot) -> None:
    page = await new_page()
    await shot(page, "01-sign-in")
    await sign_up(page)
    await expect(page.locator("#library-empty")).to_be_visible()
    await shot(page, "02-empty-library")

    # Upload three files at once: each gets its own progress bar and goes uploading -> analysing -> done.
    await page.get_by_role("link", name="Upload", exact=True).click()
    await page.evaluate(RECORD_UPLOAD_STATES)
    await page.locator("#file-input").set_input_files([DEV_MEDIA / name for name in FILES])
    await expect(page.locator("#upload-list .upload")).to_have_count(3)
    await shot(page, "03-uploading")
    for name in FILES:
        row = page.locator(f'.upload[data-filename="{name}"]')
        await expect(row).to_have_attribute("data-state", "done", timeout=180_000)
        assert await row.locator("progress").evaluate("(p) => p.value") == 100
    states = await page.evaluate("() => window.uploadStates")
    for name in FILES:
        assert states[name][-3:] == ["uploading", "analysing", "done"], states
    await shot(page, "04-uploaded")

    # The library shows all three: thumbnails for the photo and the video's poster, an icon for the recording.
    await page.get_by_role("link", name="Library").click()
    await expect(page.locator("#library-grid .card-item")).to_have_count(3)
    for name in ("chelsea.png", "holiday.mp4"):
        await expect(card(page, name).locator("img.thumb-img")).to_have_attribute("src", re.compile(r"^blob:"))
    await expect(card(page, "weather_report.wav").locator("img.kind-icon")).to_be_visible()
    await expect(card(page, "weather_report.wav")).to_contain_text("Ready")
    await shot(page, "05-library")

    # This month's usage: three uploads and what their analysis cost.
    await page.get_by_role("link", name="Usage").click()
    await expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    await expect(page.locator(".meter").filter(has_text="Uploads")).to_contain_text("3 of 1,000")
    await expect(page.locator("#usage-body")).to_contain_text("local-compute")
    await shot(page, "05-usage")
    await page.get_by_role("link", name="Library").click()

    # What Trove saw in the photo.
    dialog = page.locator("#detail")
    await card(page, "chelsea.png").get_by_role("button").click()
    await expect(dialog.get_by_role("heading", name="chelsea.png")).to_be_visible()
    await expect(dialog.locator(".facts").filter(has_text="Labels")).to_contain_text("cat")
    await shot(page, "06-detail-photo")
    async with page.expect_download() as saving:
        await dialog.get_by_role("button", name="Download").click()
    download = await saving.value
    assert download.suggested_filename == "chelsea.png"
    saved = await asyncio.to_thread((await download.path()).read_bytes)
    assert saved == (DEV_MEDIA / "chelsea.png").read_bytes()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # "a cat": the page keeps the API's ranking and highlights the query word; the kind filter narrows to photos.
    await page.get_by_role("link", name="Search").click()
    results = await search_for(page, "a cat")
    ranked = [r["filename"] for r in results]
    assert "chelsea.png" in ranked[:2], ranked
    assert await shown_results(page) == ranked
    first = page.locator("#search-results .result").first
    await expect(first.locator("mark").first).to_have_text(re.compile("cat", re.IGNORECASE))
    # The photo reads as a line ("A tabby cat"), not the list of labels it was indexed with.
    photo = page.locator('.result[data-filename="chelsea.png"] .snippet')
    await expect(photo).to_have_text(re.compile(r"^An? \w"))
    await expect(photo).not_to_contain_text("a photo of")
    await shot(page, "07-search-a-cat")
    await page.get_by_label("Kind").select_option("image")
    await expect(page.locator("#search-results .result")).to_have_count(1)
    await expect(first).to_have_attribute("data-filename", "chelsea.png")
    await shot(page, "08-search-photos-only")
    await page.get_by_label("Kind").select_option("")

    # A spoken sentence: the video result opens a player at the moment's start; transcript lines seek.
    results = await search_for(page, SOFA)
    video = next(r for r in results if r["filename"] == "holiday.mp4")
    assert video["segment"]["start_s"] > 0, video
    result = page.locator('.result[data-filename="holiday.mp4"]')
    await expect(result.locator(".moment").first).to_have_text(re.compile(r"^0:0\d–0:\d\d$"))
    # The video shows the frame of the moment that matched, not its poster.
    assert video["segment"]["frame_url"], video
    frame = result.locator(".result-open .thumb")
    await expect(frame).to_have_attribute("data-frame-url", video["segment"]["frame_url"])
    await expect(frame.locator("img.thumb-img")).to_have_attribute("src", re.compile(r"^blob:"))
    shown = await frame.locator("img.thumb-img").evaluate("(img) => img.decode().then(() => img.naturalWidth)")
    assert 0 < shown <= 320, shown  # a scene keyframe (320 px at most), not the 512 px poster
    await shot(page, "09-search-sofa")
    if os.environ.get("TROVE_DOCS_SCREENSHOTS") == "1":
        await page.screenshot(path=str(DOCS_SCREENSHOT))
    await result.locator(".result-open").click()
    player = dialog.locator("video")
    await expect(player).to_have_attribute("data-ready", "true")
    position = await player.evaluate(PLAYER_POSITION)
    assert abs(position - video["segment"]["start_s"]) <= 1, (position, video["segment"])
    await expect(dialog.locator(".transcript")).to_contain_text("the cat was waiting")
    await shot(page, "10-player")
    line = dialog.locator(".transcript button.seek").filter(has_text="strong coffee")
    line_start = float(await line.get_attribute("data-start") or "nan")
    await line.click()
    position = await player.evaluate(PLAYER_POSITION)
    assert line_start - 0.05 <= position <= line_start + 1, (position, line_start)

    # Delete, with confirmation: gone from the results on screen, from the API's answer and from the library.
    await dialog.get_by_role("button", name="Delete…").click()
    confirm = page.locator("#confirm")
    await expect(confirm).to_be_visible()
    await shot(page, "11-confirm-delete")
    await confirm.get_by_role("button", name="Delete", exact=True).click()
    await expect(dialog).to_be_hidden()
    await expect(result).to_have_count(0)
    results = await search_for(page, SOFA)
    assert "holiday.mp4" not in [r["filename"] for r in results]
    assert "holiday.mp4" not in await shown_results(page)
    await page.get_by_role("link", name="Library").click()
    await expect(page.locator("#library-grid .card-item")).to_have_count(2)
    await reload(page)  # what the server lists, not what the page remembers
    await expect(page.locator("#library-grid .card-item")).to_have_count(2)
    await expect(card(page, "holiday.mp4")).to_have_count(0)
    await shot(page, "12-after-delete")


async def test_library_loads_the_next_page_when_its_end_scrolls_into_view(new_page: NewPage, shot: Shot) -> None:
    page = await new_page(width=1000, height=600)
    await sign_up(page)
    token = await page.evaluate("() => JSON.parse(localStorage.getItem('trove.session')).idToken")
    api = Api(base_url=page.url.split("#")[0].rstrip("/"), token=token)
    dot = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(dot, "PNG")
    total = LIBRARY_PAGE + 2
    await asyncio.gather(*(api.upload(dot.getvalue(), f"dot-{i:02}.png", "image/png") for i in range(total)))
    pages: list[str] = []
    page.on("request", lambda r: pages.append(r.url) if urlsplit(r.url).path == "/api/v1/media" else None)

    await reload(page)
    cards = page.locator("#library-grid .card-item")
    await expect(cards).to_have_count(LIBRARY_PAGE)
    await page.wait_for_timeout(500)  # room for a wrong eager second request
    assert len(pages) == 1 and "cursor=" not in pages[0], pages
    await shot(page, "01-first-page")
    await page.locator("#library-sentinel").scroll_into_view_if_needed()
    await expect(cards).to_have_count(total)
    assert len(pages) == 2 and "cursor=" in pages[1], pages
    await expect(page.locator("#library-status")).to_have_text(f"{total} files")
    await expect(page.locator("#library-more")).to_be_hidden()
    # In the API's order (newest first), each card once.
    listed = (await api.request("GET", "/api/v1/media", params={"limit": 100})).json()["items"]
    shown = await cards.evaluate_all("els => els.map((e) => e.dataset.mediaId)")
    assert shown == [m["media_id"] for m in listed]


async def _set_session(page: Page, **changes: str) -> None:
    await page.evaluate(
        """(changes) => {
          const session = JSON.parse(localStorage.getItem("trove.session"));
          localStorage.setItem("trove.session", JSON.stringify({ ...session, ...changes }));
        }""",
        changes,
    )


async def test_an_expired_token_is_refreshed_and_a_dead_session_returns_to_sign_in(
    new_page: NewPage, shot: Shot
) -> None:
    page = await new_page()
    email = await sign_up(page)
    session = await page.evaluate("() => JSON.parse(localStorage.getItem('trove.session'))")
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if urlsplit(r.url).path == "/api/v1/search" else None)

    # The stored ID token has expired (the page believes it is still good): 401, refresh, the same call again.
    stale = expired_token(session["idToken"])
    await _set_session(page, idToken=stale)
    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("Search your files").fill("a red bicycle")
    await page.get_by_label("Search your files").press("Enter")
    await expect(page.locator("#search-status")).to_have_text("Nothing found for “a red bicycle”.")
    assert statuses == [401, 200]
    renewed = await page.evaluate("() => JSON.parse(localStorage.getItem('trove.session'))")
    assert renewed["idToken"] != stale
    await shot(page, "01-refreshed")

    # The refresh token is no good either: back to the sign-in form, saying why; signing in again works.
    await _set_session(page, idToken=stale, refreshToken="not-a-refresh-token")
    await page.get_by_label("Search your files").fill("a blue bicycle")
    await page.get_by_label("Search your files").press("Enter")
    await expect(page.get_by_role("heading", name="Sign in to Trove")).to_be_visible()
    await expect(page.locator("#signin-notice")).to_contain_text("sign in again")
    await expect(page.locator("#nav")).to_be_hidden()
    await shot(page, "02-back-to-sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    # Back where they were: the address still holds the search, which runs again.
    await expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
    await expect(page.locator("#search-status")).to_have_text("Nothing found for “a blue bicycle”.")
    await expect(page.locator("#signin-notice")).to_be_hidden()


def upload_row(page: Page, filename: str) -> Locator:
    return page.locator(f'#upload-list .upload[data-filename="{filename}"]')


async def expect_failed(page: Page, filename: str, message: str | re.Pattern[str], *, retry: bool) -> None:
    row = upload_row(page, filename)
    await expect(row).to_have_attribute("data-state", "failed")
    await expect(row.locator(".upload-error")).to_have_text(message)
    await expect(row.get_by_role("button", name=f"Retry {filename}")).to_have_count(1 if retry else 0)


DROP_FAKE_PNG = """() => {
  const files = new DataTransfer();
  files.items.add(new File(["this is text, not a picture"], "fake.png", { type: "image/png" }));
  const zone = document.getElementById("dropzone");
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { dataTransfer: files, bubbles: true, cancelable: true }));
  }
}"""


async def test_upload_problems_show_the_reason_per_file(new_page: NewPage, shot: Shot, tmp_path: Path) -> None:
    page = await new_page()
    await sign_up(page)
    await page.get_by_role("link", name="Upload", exact=True).click()
    upload_calls: list[str] = []

    def on_request(request: Request) -> None:
        if urlsplit(request.url).path == "/api/v1/uploads":
            upload_calls.append(request.method)

    page.on("request", on_request)
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes\n")
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(3 * 1024**3)  # sparse: 3 GiB on paper, nothing on disk
    config = await (await page.request.get("/config.json")).json()
    assert big.stat().st_size > config["maxUploadBytes"]

    # The page's own check (the server's allow-list and limit, from /config.json) stops both before any request.
    await page.locator("#file-input").set_input_files([notes, big])
    await expect_failed(page, "notes.txt", re.compile(r"text/plain file\. Trove takes images"), retry=False)
    await expect_failed(page, "big.mp4", re.compile(r"3 GB; the largest file Trove takes is 2 GB"), retry=False)
    assert upload_calls == []
    await shot(page, "01-checked-in-the-page")

    # Dropped on the drop zone: a "PNG" that is text passes the page's check; the server's 422 says why not.
    await page.evaluate(DROP_FAKE_PNG)
    await expect_failed(page, "fake.png", re.compile(r"not a supported image/png file \(422\)$"), retry=False)
    assert upload_calls == ["POST"]

    # A page whose limits lag the server's (here: /config.json loosened on the way) meets the server's own
    # answers, 415 and 413, and shows their messages.
    async def loosen(route: Any) -> None:
        response = await route.fetch()
        loosened = {**await response.json(), "maxUploadBytes": 10 * 1024**3}
        loosened["allowedTypes"] = {**loosened["allowedTypes"], "text/plain": "document"}
        await route.fulfill(response=response, json=loosened)

    await page.route("**/config.json", loosen)
    await reload(page)
    await page.locator("#file-input").set_input_files([notes, big])
    await expect_failed(
        page, "notes.txt", re.compile(r"content type 'text/plain' is not supported.*\(415\)$"), retry=False
    )
    await expect_failed(page, "big.mp4", re.compile(r"the largest accepted is \d+ bytes \(413\)$"), retry=False)
    await shot(page, "02-server-answers")
    await page.unroute("**/config.json")

    # A transient failure (the connection drops during the PUT) offers Retry, which then goes through.
    async def drop_connection(route: Any) -> None:
        await route.abort("connectionreset")

    await reload(page)
    await page.route("**/blobs/**", drop_connection, times=1)
    photo = tmp_path / "cat.png"
    shutil.copy(DEV_MEDIA / "chelsea.png", photo)
    await page.locator("#file-input").set_input_files([photo])
    await expect_failed(page, "cat.png", re.compile("interrupted"), retry=True)
    await shot(page, "03-interrupted")
    await upload_row(page, "cat.png").get_by_role("button", name="Retry cat.png").click()
    await expect(upload_row(page, "cat.png")).to_have_attribute("data-state", "done", timeout=120_000)
    await shot(page, "04-retried")


async def test_keyboard_only_at_phone_width(new_page: NewPage, shot: Shot) -> None:
    page = await new_page(width=390, height=844)

    async def no_sideways_scrolling() -> None:
        assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

    await no_sideways_scrolling()
    # Enter submits the form's first button (Sign in): no such account yet, and the page says so.
    await page.get_by_label("Email").focus()
    await page.keyboard.type(f"phone-{uuid.uuid4().hex[:8]}@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#signin-error")).to_have_text("Wrong email or password.")
    await shot(page, "01-wrong-password")
    # Tab on to "Create account".
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement.textContent") == "Create account":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Library")).to_be_focused()
    await no_sideways_scrolling()
    await shot(page, "02-library")

    for view, heading in (("usage", "Usage"), ("upload", "Upload"), ("people", "People"), ("search", "Search")):
        await page.get_by_role("link", name=heading, exact=True).focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_focused()
        await no_sideways_scrolling()
        await shot(page, f"03-{view}")
    # The search box and its filters are labelled controls, reachable with Tab.
    await page.get_by_label("Search your files").focus()
    await page.keyboard.type("anything")
    await page.keyboard.press("Enter")
    await expect(page.locator("#search-status")).to_have_text("Nothing found for “anything”.")
    for label in ("Kind", "Uploaded from", "to", "Sort"):
        await expect(page.get_by_label(label, exact=True)).to_be_visible()


async def test_what_the_words_were_read_as_shows_as_chips_that_can_be_removed(new_page: NewPage, shot: Shot) -> None:
    page = await new_page()
    await sign_up(page)
    await page.get_by_role("link", name="Upload", exact=True).click()
    await page.locator("#file-input").set_input_files([DEV_MEDIA / "chelsea.png", DEV_MEDIA / "weather_report.wav"])
    for name in ("chelsea.png", "weather_report.wav"):
        row = page.locator(f'.upload[data-filename="{name}"]')
        await expect(row).to_have_attribute("data-state", "done", timeout=180_000)
    await page.get_by_role("link", name="Search").click()

    # "photos of a cat": a kind chip, only photos, and the words ranked by.
    results = await search_for(page, "photos of a cat")
    assert results and {r["kind"] for r in results} == {"image"}
    chips = page.locator("#search-understood .chip")
    await expect(chips).to_have_count(1)
    await expect(chips.first).to_contain_text("photo")
    await expect(page.locator("#search-understood")).to_contain_text("“cat”")
    await shot(page, "chips-01-photos-of-a-cat")

    # Removing the chip searches again with the kind words taken literally, in the browser's time zone.
    async with page.expect_request(lambda r: urlsplit(r.url).path == "/api/v1/search") as sent:
        await page.get_by_role("button", name="Remove kind filter photo").click()
    params = parse_qs(urlsplit((await sent.value).url).query)
    assert params["literal"] == ["kinds"] and params["q"] == ["photos of a cat"] and params["tz"]
    await expect(page.locator("#search-understood")).to_be_hidden()
    await expect(page.locator("#search-status")).not_to_have_text("Searching…")

    # "-word": the file that says it is left out, and the bar says so.
    assert {r["filename"] for r in await search_for(page, "cat -weather")} == {"chelsea.png"}
    await expect(page.locator("#search-understood .excluded")).to_have_text("· without “weather”")
    await expect(chips).to_have_count(0)

    # A date phrase: a date chip; nothing was uploaded yesterday.
    assert await search_for(page, "a cat from yesterday") == []
    await expect(chips).to_have_count(1)
    await expect(chips.first).to_have_attribute("data-part", "dates")
    await expect(chips.first).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    await shot(page, "chips-02-from-yesterday")
    async with page.expect_response(lambda r: "literal=dates" in r.url):
        await chips.first.get_by_role("button").click()
    await expect(chips).to_have_count(0)
