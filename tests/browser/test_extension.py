"""The MV3 extension loaded into real Chromium: options, side panel page, context-menu query.

Headless Chromium cannot show a side panel, so its page is opened directly as an
extension page, which is exactly what the side panel hosts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import SecuredServer

EXTENSION = Path(__file__).resolve().parents[2] / "extension"


@pytest.fixture
def extension_context(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
        ignore_default_args=["--disable-extensions"],
        args=[*CHROMIUM_ARGS, f"--disable-extensions-except={EXTENSION}",
              f"--load-extension={EXTENSION}"],
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def extension_id(context: BrowserContext) -> str:
    worker = context.service_workers[0] if context.service_workers else \
        context.wait_for_event("serviceworker")
    return worker.url.split("/")[2]


def test_manifest_declares_side_panel_menu_and_shortcut() -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text("utf-8"))
    assert manifest["manifest_version"] == 3
    assert manifest["side_panel"]["default_path"] == "panel.html"
    assert {"sidePanel", "storage", "contextMenus"} <= set(manifest["permissions"])
    assert manifest["commands"]["_execute_action"]["suggested_key"]["default"] == "Ctrl+Shift+K"
    for name in ("panel.html", "panel.js", "options.html", "options.js", "background.js"):
        assert (EXTENSION / name).is_file()


def test_side_panel_hosts_the_sidebar_with_the_configured_key(
        extension_context: BrowserContext, secured_server: SecuredServer) -> None:
    base = f"chrome-extension://{extension_id(extension_context)}"
    options = extension_context.new_page()
    options.goto(f"{base}/options.html")
    options.fill("#url", secured_server.url + "/")
    options.fill("#api-key", secured_server.keys.search)
    options.click("button[type=submit]")
    expect(options.locator("#saved")).to_have_text("Saved.")

    panel = extension_context.new_page()
    keys: list[str | None] = []
    panel.on("request", lambda r: keys.append(r.headers.get("x-api-key"))
             if "/v1/search" in r.url else None)
    panel.goto(f"{base}/panel.html")
    sidebar = panel.frame_locator("#sidebar")
    expect(sidebar.locator("body")).to_have_attribute("data-ready", "true")
    sidebar.locator("#q").fill("zwrot pieniedzy")
    expect(sidebar.locator(".result").first).to_have_attribute("data-article-id", "refunds-pl")
    assert keys and set(keys) == {secured_server.keys.search}

    # The context menu stores the selection; the panel hands it to the sidebar.
    worker = extension_context.service_workers[0]
    worker.evaluate("chrome.storage.session.set({pendingQuery: {q: 'wifi E21', at: Date.now()}})")
    expect(sidebar.locator("#q")).to_have_value("wifi E21")
    expect(sidebar.locator(".result").first).to_have_attribute("data-article-id", "wifi")


def test_panel_without_settings_points_to_the_options(extension_context: BrowserContext) -> None:
    panel = extension_context.new_page()
    panel.goto(f"chrome-extension://{extension_id(extension_context)}/panel.html")
    expect(panel.locator("#setup")).to_be_visible()
    expect(panel.locator("#setup a")).to_have_attribute("href", "options.html")
