"""The API reference page in a real browser: Swagger UI from the gateway's own assets renders every operation of
the OpenAPI document, under a 'self'-only Content-Security-Policy with no violation and no script error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from playwright.async_api import Page

NewPage = Callable[..., Awaitable[Page]]
Shot = Callable[[Page, str], Awaitable[object]]


async def test_api_docs_render_every_operation(new_page: NewPage, gateway_url: str, shot: Shot) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    operations = sum(len(item) for item in document["paths"].values())
    page = await new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(gateway_url) else outside.append(r.url))
    await page.goto("/api/docs")
    await page.wait_for_selector(".opblock", state="attached")
    assert await page.locator(".opblock").count() == operations
    assert await page.get_by_text("Trove API").first.is_visible()
    await page.locator(".opblock-summary").first.click()
    await page.wait_for_selector(".responses-table", state="attached")
    await shot(page, "api-docs")
    assert not [url for url in outside if not url.startswith(("data:", "blob:"))], outside
