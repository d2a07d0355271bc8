"""The People view in a real browser: faces grouped into people shown as crops, named in place, a person's page
with their photos and video moments, a face taken out and merged back, and the name found by search as a chip."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
from face_pictures import library_of_two
from playwright.async_api import Page, expect
from support import PASSWORD, Api

from trove_stack.infra import Infra

NewPage = Callable[..., Awaitable[Page]]
Shot = Callable[[Page, str], Awaitable[Path]]
Connect = Callable[[str], grpc.aio.Channel]


async def _signed_up(page: Page, infra: Infra, gateway_url: str) -> Api:
    """Sign up through the page; the same user as a REST client."""
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Library")).to_be_visible()
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://{infra.auth_emulator_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword"
            "?key=fake-api-key",
            json={"email": email, "password": PASSWORD, "returnSecureToken": True},
        )
        response.raise_for_status()
    return Api(base_url=gateway_url, token=response.json()["idToken"])


async def test_people_view_names_people_and_their_page_shows_their_files(
    new_page: NewPage, shot: Shot, infra: Infra, gateway_url: str, grpc_channel: Connect
) -> None:
    page = await new_page()
    api = await _signed_up(page, infra, gateway_url)
    user_id = (await api.request("GET", "/api/v1/me")).json()["user_id"]
    _, ids = await library_of_two(grpc_channel, user_id=user_id)

    await page.get_by_role("link", name="People", exact=True).click()
    await expect(page.get_by_role("heading", name="People")).to_be_visible()
    cards = page.locator("#people-grid .person-card")
    await expect(cards).to_have_count(2)
    await expect(cards.locator("img.face-img")).to_have_count(2)  # the crops arrived
    await expect(page.locator("#people-status")).to_have_text("2 people")
    await shot(page, "01-people")

    # Name the one with four faces in place: Enter saves.
    hopper = cards.filter(has_text="4 faces")
    field = hopper.get_by_role("textbox")
    await field.fill("Grace Hopper")
    async with page.expect_response(lambda r: r.request.method == "PATCH" and "/api/v1/people/" in r.url) as saved:
        await field.press("Enter")
    assert (await saved.value).status == 200
    await page.reload()
    await page.wait_for_selector("body[data-app=ready]", state="attached")
    await expect(page.locator("#people-grid .person-card").first.get_by_role("textbox")).to_have_value("Grace Hopper")

    # Her page: four files, the video with the moment she is in.
    await page.get_by_role("link", name="Grace Hopper, 4 faces").click()
    await expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    files = page.locator(".person-file")
    await expect(files).to_have_count(4)
    party = files.filter(has_text="party.mp4")
    await expect(party.get_by_role("button", name="party.mp4 at 0:00–0:04")).to_be_visible()
    await shot(page, "02-person")

    # "Not them" takes a face out (a person of its own); merging brings it back.
    grey = files.filter(has_text="hopper_grey.jpg")
    await grey.get_by_role("button", name="Not this person (hopper_grey.jpg)").click()
    await expect(files).to_have_count(3)
    await page.get_by_label("Merge another person into Grace Hopper").select_option(label="Unnamed person (1 face)")
    await page.get_by_role("button", name="Merge").click()
    await expect(files).to_have_count(4)

    # Her name in a search: her files, and a chip with her name.
    await page.get_by_role("link", name="Search for “Grace Hopper”").click()
    await expect(page.get_by_label("Search your files")).to_have_value("Grace Hopper")
    results = page.locator("#search-results .result")
    await expect(results).to_have_count(4)
    chip = page.locator('#search-understood .chip[data-part="people"]')
    await expect(chip).to_contain_text("Grace Hopper")
    await shot(page, "03-search-by-name")
    assert {await r.get_attribute("data-media-id") for r in await results.all()} == {
        ids["hopper_portrait"],
        ids["hopper_by_the_lake"],
        ids["hopper_grey"],
        ids["party"],
    }

    # Hide the other person: gone from People until hidden people are shown.
    await page.get_by_role("link", name="People", exact=True).click()
    await page.get_by_role("link", name="Unnamed person, 3 faces").click()
    await expect(page.get_by_role("heading", name="Unnamed person")).to_be_visible()
    await page.get_by_role("button", name="Hide").click()
    await expect(page.get_by_role("button", name="Show in People")).to_be_visible()
    await page.get_by_role("link", name="← People").click()
    await expect(cards).to_have_count(1)
    await page.get_by_label("Show hidden people").check()
    await expect(cards).to_have_count(2)
    await expect(cards.filter(has_text="hidden")).to_have_count(1)
