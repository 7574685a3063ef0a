"""The KB owners' analytics page in real Chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer

HOSTILE = '<img src=x onerror="window.__pwned=1">bitcoin'


def test_admin_page_shows_charts_gaps_and_stale_articles_inertly(
        page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for query in ("xqzv blorp frobnicate", HOSTILE, "refund"):
        httpx.get(f"{live_server.url}/v1/search", params={"q": query})
    response = httpx.get(f"{live_server.url}/admin")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{live_server.url}/admin")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#summary .card").first).to_contain_text("Searches")
    assert page.locator("#chart-searches svg rect.bar").count() >= 1
    gaps = page.locator("#content_gaps")
    expect(gaps).to_contain_text("xqzv blorp frobnicate")
    expect(page.locator("#top_queries")).to_contain_text(HOSTILE.lower())
    expect(page.locator("#stale_articles")).to_contain_text("wifi")
    assert page.evaluate("window.__pwned") is None and dialogs == []
    shot = tmp_path / "admin.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
