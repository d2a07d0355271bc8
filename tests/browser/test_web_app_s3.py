"""The web app on the s3 storage backend: the browser PUTs uploads straight to the bucket through presigned URLs
(the bucket's CORS rules and the page's Content-Security-Policy let it), and plays originals from it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, Request, expect
from support import DEV_MEDIA, S3Stack

NewPage = Callable[..., Awaitable[Page]]
Shot = Callable[[Page, str], Awaitable[Path]]

FILES = ("chelsea.png", "holiday.mp4")


async def sign_up(page: Page) -> None:
    await page.get_by_label("Email").fill(f"s3-{uuid.uuid4().hex[:10]}@example.com")
    await page.get_by_label("Password").fill("secret-pass-123")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Library")).to_be_visible()


def card(page: Page, filename: str) -> Locator:
    return page.locator("#library-grid .card-item").filter(has_text=filename)


@pytest.fixture(scope="module")
def gateway_url(s3_stack: S3Stack) -> str:
    """The pages come from the s3 stack's gateway (`new_page` opens this URL)."""
    return s3_stack.gateway_url


async def test_uploads_go_to_the_bucket_and_the_player_reads_from_it(
    new_page: NewPage, shot: Shot, s3_stack: S3Stack
) -> None:
    page = await new_page()
    await sign_up(page)
    puts: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "PUT":
            puts.append(request.url)

    page.on("request", on_request)
    await page.get_by_role("link", name="Upload", exact=True).click()
    await page.locator("#file-input").set_input_files([DEV_MEDIA / name for name in FILES])
    for name in FILES:
        row = page.locator(f'.upload[data-filename="{name}"]')
        await expect(row).to_have_attribute("data-state", "done", timeout=240_000)
    assert len(puts) == 2 and all(url.startswith(f"{s3_stack.s3.endpoint_url}/trove-media/users/") for url in puts)
    await shot(page, "s3-uploaded")

    await page.get_by_role("link", name="Library").click()
    for name in FILES:
        await expect(card(page, name).locator("img.thumb-img")).to_have_attribute("src", re.compile(r"^blob:"))
    await card(page, "holiday.mp4").get_by_role("button").click()
    player = page.locator("#detail video")
    await expect(player).to_have_attribute("data-ready", "true")
    source = await player.evaluate("(v) => v.currentSrc")
    assert source.startswith(f"{s3_stack.s3.endpoint_url}/trove-media/users/"), source
    await shot(page, "s3-player")
