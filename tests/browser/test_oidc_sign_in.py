"""The web app signs in with an OpenID Connect issuer (authorization code + PKCE) in a real browser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from oidc_issuer import OidcIssuer, running_oidc_gateway
from playwright.async_api import Browser, Page, expect

from trove_stack.infra import Infra, ServiceGroup

Shot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture(scope="module")
def oidc_gateway(
    infra: Infra, services: ServiceGroup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, OidcIssuer]]:
    with running_oidc_gateway(infra, data_dir=tmp_path_factory.mktemp("oidc-browser-gw")) as running:
        yield running


async def test_sign_in_with_the_issuer_and_land_back_in_the_library(
    browser: Browser, oidc_gateway: tuple[str, OidcIssuer], shot: Shot
) -> None:
    url, issuer = oidc_gateway
    context = await browser.new_context(base_url=url)
    context.set_default_timeout(15_000)
    problems: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    token_calls: list[str] = []
    page.on("request", lambda r: token_calls.append(r.method) if r.url == f"{issuer.url}/token" else None)
    try:
        await page.goto("/#/search?q=bicycle")
        await page.wait_for_selector("body[data-app=ready]", state="attached")
        await expect(page.get_by_role("heading", name="Sign in to Trove")).to_be_visible()
        await expect(page.get_by_label("Password")).to_be_hidden()  # no password form in oidc mode
        await shot(page, "01-sign-in")

        await page.get_by_role("button", name="Sign in").click()
        # Off to the issuer, which approves the test user and redirects back with a code; the page trades it.
        await expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
        await expect(page.locator("#account-email")).to_have_text(issuer.user.email)
        parts = urlsplit(page.url)
        assert parts.query == "" and parts.fragment == "/search?q=bicycle"  # the code left the address bar
        assert token_calls == ["POST"]
        session = await page.evaluate("() => JSON.parse(localStorage.getItem('trove.session'))")
        assert session["uid"] == issuer.user.sub and session["refreshToken"]
        assert await page.evaluate("() => sessionStorage.getItem('trove.oidc.pending')") is None

        await page.get_by_role("link", name="Library").click()
        await expect(page.get_by_role("heading", name="Library")).to_be_visible()
        await expect(page.locator("#library-empty")).to_be_visible()
        await shot(page, "02-library")

        # An expired ID token is renewed through the issuer's token endpoint (refresh_token grant).
        await page.evaluate(
            """() => {
              const s = JSON.parse(localStorage.getItem("trove.session"));
              localStorage.setItem("trove.session", JSON.stringify({ ...s, expiresAt: Date.now() }));
            }"""
        )
        await page.get_by_role("link", name="Search").click()
        await page.get_by_label("Search your files").fill("a red bicycle")
        await page.get_by_label("Search your files").press("Enter")
        await expect(page.locator("#search-status")).to_have_text("Nothing found for “a red bicycle”.")
        assert token_calls == ["POST", "POST"]

        # A code with a state this tab never sent is refused, and nobody is signed in by it.
        await page.get_by_role("button", name="Sign out").click()
        await page.goto("/?code=stolen&state=made-up")
        await page.wait_for_selector("body[data-app=ready]", state="attached")
        await expect(page.locator("#signin-oidc-error")).to_contain_text("does not match")
        assert await page.evaluate("() => localStorage.getItem('trove.session')") is None
    finally:
        await context.close()
    assert not problems, problems
