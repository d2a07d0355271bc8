"""A real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the web app the test stack serves.

One browser per session; every test gets a fresh context (empty storage: nobody signed in). Each page records
uncaught script errors and Content-Security-Policy violations; a test that caused any fails.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, async_playwright
from support import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    if not await asyncio.to_thread(CHROMIUM.is_file):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    # Playwright gives the browser a fresh --user-data-dir of its own (and removes it on close).
    browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    await browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@dataclass
class PageProblems:
    """What went wrong inside the page: uncaught errors and blocked content (CSP)."""

    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp.append(message.text)


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser, gateway_url: str) -> AsyncIterator[NewPage]:
    """Opens the app in a fresh context (own storage); checks after the test that no page had errors."""
    contexts = []
    problems = PageProblems()

    async def make(*, width: int = 1280, height: int = 900) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height}, base_url=gateway_url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: problems.errors.append(str(exc)))
        page.on("console", problems.on_console)
        await page.goto("/")
        await page.wait_for_selector("body[data-app=ready]", state="attached")
        return page

    yield make
    for context in contexts:
        await context.close()
    assert not problems.errors, f"uncaught errors in the page: {problems.errors}"
    assert not problems.csp, f"Content-Security-Policy violations: {problems.csp}"


@pytest.fixture
def shot(artifacts: Path, request: pytest.FixtureRequest) -> Callable[[Page, str], Awaitable[Path]]:
    """Saves a screenshot as test-artifacts/browser/<test>-<step>.png."""
    prefix = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name).strip("_")

    async def take(page: Page, step: str) -> Path:
        path = artifacts / f"{prefix}-{step}.png"
        await page.screenshot(path=str(path))
        return path

    return take
