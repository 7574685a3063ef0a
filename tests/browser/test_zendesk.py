"""The Zendesk ticket-sidebar app in real Chromium, inside a fake helpdesk page.

The vendor SDK and Zendesk itself are out of reach in tests, so fixtures/zendesk_host.html
plays the helpdesk's side of the ZAF postMessage protocol (handshake, ``get``, ``invoke``,
events). The app's assets are served from one origin, the host page from another, and
the real Deskmate server from a third, which allows the app's origin through CORS.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from app.store import Scope, Store
from indexer.embed import Encoder
from tests.conftest import Deployment, copy_deployment, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "integrations" / "zendesk"
HOST_DIR = Path(__file__).parent / "fixtures"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """A static file server on a free loopback port (its own origin), stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Helpdesk:
    host_url: str
    app_url: str
    deskmate_url: str
    plugin_key: str


@pytest.fixture(scope="module")
def helpdesk(deployment: Deployment, encoder: Encoder,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Helpdesk]:
    with static_server(APP_DIR) as app_origin, static_server(HOST_DIR) as host_origin:
        settings = copy_deployment(deployment, tmp_path_factory.mktemp("zendesk"))
        settings = settings.model_copy(update={"cors_origins": [app_origin]})
        store = Store(settings.store_url)
        store.migrate()
        plugin = store.create_key(name="zendesk", scopes=frozenset({Scope.SEARCH}),
                                  internal=False)[1]
        store.close()
        for server in serve_in_thread(settings, encoder):
            yield Helpdesk(f"{host_origin}/zendesk_host.html", f"{app_origin}/assets/iframe.html",
                           server.url, plugin)


REFUND_EN = {
    "ticket.id": 101,
    "ticket.subject": "Re: money back",
    "ticket.description": (
        "Hi Anna,\n\nHow do I request a refund for my order? I want my money back.\n\n"
        "Best regards,\nJohn\n\nOn Mon, 3 Nov 2026 at 10:15, Nimbus Support "
        "<support@nimbushome.example> wrote:\n> Please check the Wi-Fi error E21."),
    "ticket.requester.locale": "en-US",
    "currentUser.locale": "en-US",
}


def open_app(page: Page, helpdesk: Helpdesk, ticket: dict, **settings: object) -> FrameLocator:
    config = {"deskmate_url": helpdesk.deskmate_url, "api_key": helpdesk.plugin_key,
              "results": "5", "help_center_url": "https://help.example.com/articles/{id}"}
    page.goto(helpdesk.host_url)
    page.evaluate("([url, ticket, settings]) => startHost(url, ticket, settings)",
                  [helpdesk.app_url, ticket, config | settings])
    app = page.frame_locator("#app")
    expect(app.locator("body")).to_have_attribute("data-ready", "true")
    return app


def host_log(page: Page) -> dict:
    return page.evaluate("() => JSON.parse(JSON.stringify(window.host))")


def test_the_app_shows_suggestions_for_a_fake_ticket(page: Page, helpdesk: Helpdesk) -> None:
    ticket = {"ticket.id": 102, "ticket.subject": "Odp: zwrot",
              "ticket.description": "Dzień dobry,\nchcę zwrot pieniędzy za zamówienie.\n\n"
                                    "Pozdrawiam\nJan\n\nWysłane z iPhone'a",
              "ticket.requester.locale": "pl", "currentUser.locale": "en-US"}
    app = open_app(page, helpdesk, ticket)
    first = app.locator(".card").first
    expect(first).to_have_attribute("data-article-id", "refunds-pl")
    expect(first.locator(".title")).to_have_text("Jak poprosić o zwrot pieniędzy")
    expect(first.locator(".title")).to_have_attribute("dir", "auto")
    expect(first.locator(".snippet mark").first).to_be_visible()
    expect(first.locator(".why")).to_contain_text("Matched:")
    expect(app.locator("#heading")).to_have_text("Suggested articles")
    log = host_log(page)
    assert len(log["handshakes"]) == 1 and log["handshakes"][0]["appGuid"] == "c0ffee-test-app"
    assert "ticket.description" in log["gets"][0]
    assert "ticket.subject.changed" in log["subscribed"]


def test_persian_tickets_get_persian_articles_and_interface(page: Page, helpdesk: Helpdesk) -> None:
    ticket = {"ticket.id": 103, "ticket.subject": "رمز عبور",
              "ticket.description": "سلام،\nرمز عبورم را فراموش کرده‌ام.\nبا تشکر\nمریم",
              "currentUser.locale": "fa"}
    app = open_app(page, helpdesk, ticket)
    expect(app.locator(".card").first).to_have_attribute("data-article-id", "password-fa")
    expect(app.locator("#heading")).to_have_text("مقاله‌های پیشنهادی")
    expect(app.locator(".card .insert").first).to_have_text("درج در پاسخ")


def test_insert_into_reply_appends_the_passage_and_skips_it_next_time(
        page: Page, helpdesk: Helpdesk) -> None:
    app = open_app(page, helpdesk, REFUND_EN)
    first = app.locator(".card").first
    expect(first).to_have_attribute("data-article-id", "refunds")
    with page.expect_request(re.compile(r"/v1/events$")) as event:
        first.locator(".insert").click()
    expect(first.locator(".insert")).to_have_text("Inserted")
    expect(first.locator(".insert")).to_be_disabled()
    appended = [call["ticket.comment.appendText"][0] for call in host_log(page)["invoked"]
                if "ticket.comment.appendText" in call]
    assert len(appended) == 1
    assert "30 days" in appended[0]
    assert appended[0].endswith("How to request a refund: https://help.example.com/articles/refunds")
    sent = json.loads(event.value.post_data or "{}")
    assert (sent["article_id"], sent["action"], sent["rank"]) == ("refunds", "copy", 1)

    with page.expect_response(re.compile(r"/v1/suggest$")) as again:
        page.evaluate("() => fireEvent('ticket.subject.changed', 'Re: money back')")
    assert json.loads(again.value.request.post_data or "{}")["exclude_article_ids"] == ["refunds"]
    expect(app.locator(".card").first).not_to_have_attribute("data-article-id", "refunds")
    assert not {"refunds", "refunds-pl", "refunds-ru"} & set(
        app.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.articleId)"))


def test_feedback_is_sent_and_hidden_when_the_server_cannot_take_it(
        page: Page, helpdesk: Helpdesk) -> None:
    app = open_app(page, helpdesk, {**REFUND_EN, "ticket.id": 104})
    first = app.locator(".card").first
    search_id = app.locator("#results").get_attribute("data-search-id")
    with page.expect_response(re.compile(r"/v1/feedback$")) as answered:
        first.locator(".helpful").click()
    body = json.loads(answered.value.request.post_data or "{}")
    assert body == {"search_id": search_id, "article_id": "refunds",
                    "section": body["section"], "helpful": True}
    status = answered.value.status
    assert status in (201, 404), status
    if status == 201:
        expect(first.locator(".thanks")).to_have_text("Thanks for the feedback")
    else:  # this server does not know suggestion search ids (or has no feedback): no buttons
        expect(app.locator("body")).to_have_class(re.compile("no-feedback"))
        expect(app.locator(".helpful").first).to_be_hidden()


def test_a_wrong_api_key_is_explained(page: Page, helpdesk: Helpdesk) -> None:
    app = open_app(page, helpdesk, REFUND_EN, api_key="dm_wrong_key")
    expect(app.locator("#status")).to_have_text(
        "Deskmate refused the API key: check it in the app settings.")
    expect(app.locator(".card")).to_have_count(0)


def test_outside_a_helpdesk_the_page_says_so(page: Page, helpdesk: Helpdesk) -> None:
    page.goto(helpdesk.app_url)
    expect(page.locator("#status")).to_have_text("Open this page as a Zendesk ticket-sidebar app.")


def test_the_manifest_declares_a_ticket_sidebar_app_with_the_settings_the_page_reads() -> None:
    manifest = json.loads((APP_DIR / "manifest.json").read_text("utf-8"))
    location = manifest["location"]["support"]["ticket_sidebar"]["url"]
    assert (APP_DIR / location).is_file()
    names = {p["name"] for p in manifest["parameters"]}
    script = (APP_DIR / "assets" / "app.js").read_text("utf-8")
    assert set(re.findall(r"this\.settings\.(\w+)", script)) == names
    labels = json.loads((APP_DIR / "translations" / "en.json").read_text("utf-8"))
    assert set(labels["app"]["parameters"]) == names
    html = (APP_DIR / location).read_text("utf-8")
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert (APP_DIR / "assets" / asset).is_file(), asset
    assert "<script>" not in html  # no inline script: the page's CSP forbids it
