"""Screenshots of the sidebar's main states on the sample KB, for the README.

    make screenshots     (builds the index of kb/ first, then runs this)

Starts `deskmate serve` on a free loopback port, drives Debian's Chromium with
Playwright, writes docs/screenshots/*.png and stops the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("deskmate serve exited; run `make index` first")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit("deskmate serve did not become ready")


def search(page: Page, url: str, query: str) -> None:
    page.goto(f"{url}/sidebar")
    page.wait_for_selector("body[data-ready]")
    page.fill("#q", query)
    page.wait_for_function("q => document.getElementById('results').dataset.query === q", arg=query)
    page.wait_for_timeout(200)


def shoot(url: str) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": 380, "height": 720}, locale="en-US",
                                          color_scheme=scheme, device_scale_factor=2)
            page = context.new_page()
            if scheme == "dark":
                search(page, url, "thermostat shows E22")
                page.screenshot(path=OUT / "dark-mode.png")
                continue
            search(page, url, "parcel says delivered but nothing came")
            page.screenshot(path=OUT / "results.png")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            page.wait_for_selector("#article-view:not([hidden])")
            page.wait_for_timeout(200)
            page.screenshot(path=OUT / "article.png")
            search(page, url, "do you sell solar panels with financing")
            page.screenshot(path=OUT / "no-good-match.png")
            search(page, url, "رمز عبورم را فراموش کردم")
            page.screenshot(path=OUT / "persian.png")
        shoot_admin(browser, url)
        browser.close()


def shoot_admin(browser: Any, url: str) -> None:
    """The analytics page after a few searches, votes and clicks."""
    for query in ("can I pay with bitcoin", "do you accept crypto", "bitcoin payment",
                  "showroom in berlin", "where is my parcel", "refund", "refund", "wifi E21"):
        body = httpx.get(f"{url}/v1/search", params={"q": query}).json()
        top = body["results"][0]["article_id"]
        httpx.post(f"{url}/v1/events", json={"search_id": body["search_id"], "article_id": top,
                                             "rank": 1, "action": "open"})
        httpx.post(f"{url}/v1/feedback", json={"search_id": body["search_id"],
                                               "article_id": top, "helpful": "E21" in query})
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.goto(f"{url}/admin")
    page.wait_for_selector("body[data-ready]")
    page.screenshot(path=OUT / "admin.png", full_page=True)
    context.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # A throwaway store, so the screenshots' searches never land in a real search log.
    env = {**os.environ, "DESKMATE_DATABASE_URL": f"sqlite:///{OUT.parent / '.screenshots.sqlite3'}"}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                               cwd=ROOT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        shoot(url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        for leftover in OUT.parent.glob(".screenshots.sqlite3*"):
            leftover.unlink()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
