"""The agent sidebar in real Chromium against the real server and a tiny real index."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer


def open_sidebar(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/sidebar")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#q")).to_be_focused()


def first_result(page: Page):
    return page.locator(".result").first


def test_typing_shows_the_expected_article_first(page: Page, live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    page.keyboard.type("how do I get my money back")
    expect(first_result(page)).to_have_attribute("data-article-id", "refunds")
    expect(page.locator("#status")).to_contain_text("results for")
    expect(first_result(page).locator("mark").first).to_be_visible()


def test_fast_typing_ends_on_the_results_of_the_last_query(page: Page,
                                                           live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    page.keyboard.type("thermostat wifi", delay=220)  # slower than the debounce: requests fly
    page.keyboard.press("Control+A")
    page.keyboard.type("zwrot pieniedzy", delay=5)
    expect(page.locator("#results")).to_have_attribute("data-query", "zwrot pieniedzy")
    page.wait_for_timeout(800)  # any stale response would have landed by now
    expect(page.locator("#results")).to_have_attribute("data-query", "zwrot pieniedzy")
    expect(first_result(page)).to_have_attribute("data-article-id", "refunds-pl")


def test_keyboard_only_search_open_and_back(page: Page, live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    page.keyboard.press("Tab")
    expect(page.locator("#filter-lang")).to_be_focused()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("wifi error E21")
    expect(first_result(page)).to_have_attribute("data-article-id", "wifi")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#result-0")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#result-1")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator("#article-view")).to_be_visible()
    expect(page.locator("#article h2#error-e21")).to_be_focused()
    expect(page.locator("#article h1")).to_have_text("Thermostat won't connect to Wi-Fi")
    page.keyboard.press("Escape")
    expect(page.locator("#results-view")).to_be_visible()
    expect(page.locator("#result-0")).to_be_focused()
    expect(page.locator("#q")).to_have_value("wifi error E21")
    page.keyboard.press("Escape")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#q")).to_have_value("")
    expect(page.locator(".result")).to_have_count(0)


def test_hostile_article_markup_stays_inert(page: Page, live_server: LiveServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/sidebar?article=unsafe")
    article = page.locator("#article")
    expect(article.locator("h1")).to_have_text("Article with hostile markup")
    expect(article).to_contain_text('<script>window.__pwned = true; alert("script")</script>')
    assert article.locator("script, iframe, img[onerror]").count() == 0
    assert article.locator("[href^='javascript' i]").count() == 0
    article.get_by_text("Reset link").click()
    article.get_by_text("raw link").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    article.get_by_role("link", name="the refund guide").click()
    expect(page.locator("#article h1")).to_have_text("How to request a refund")
    expect(page.locator("#article h2#steps")).to_be_focused()


def test_persian_results_are_laid_out_right_to_left(page: Page, live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    page.keyboard.type("رمز عبور")
    title = first_result(page).locator(".result-title")
    expect(first_result(page)).to_have_attribute("data-article-id", "password-fa")
    assert title.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert first_result(page).locator(".snippet").evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "ltr"


def test_nonsense_shows_the_no_good_match_state(page: Page, live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    page.keyboard.type("xqzv blorp frobnicate")
    expect(page.locator("#no-match")).to_be_visible()
    expect(page.locator("#no-match")).to_contain_text("No good match for “xqzv blorp frobnicate”")
    expect(page.locator(".result").first).to_be_visible()  # best candidates still shown
    page.locator("#tell-owners").click()
    expect(page.locator("#tell-owners")).to_have_text("Thanks, the KB owners will see this query.")
    expect(page.locator("#tell-owners")).to_be_disabled()


def test_helpful_votes_and_clicks_reach_the_server(page: Page, live_server: LiveServer) -> None:
    posted: list[tuple[str, dict]] = []
    page.on("request", lambda r: posted.append((r.url.split("/v1/")[-1], r.post_data_json))
            if r.method == "POST" and "/v1/" in r.url else None)
    open_sidebar(page, live_server)
    page.keyboard.type("wifi error E21")
    expect(first_result(page)).to_have_attribute("data-article-id", "wifi")
    first_result(page).locator(".result-title").click()
    page.locator("#helpful").click()
    expect(page.locator("#status")).to_have_text("Thanks for the feedback")
    kinds = [(url, body.get("action") or body.get("helpful")) for url, body in posted if body]
    assert ("events", "open") in kinds and ("feedback", True) in kinds


def test_filters_are_offered_from_the_index_and_remembered(page: Page,
                                                           live_server: LiveServer) -> None:
    open_sidebar(page, live_server)
    expect(page.locator("#filter-lang option")).to_have_text(["Any", "en", "fa", "pl", "ru"])
    page.select_option("#filter-lang", "ru")
    page.locator("#q").fill("refund money")
    expect(first_result(page)).to_have_attribute("data-article-id", "refunds-ru")
    expect(page.locator(".result")).to_have_count(1)
    page.reload()
    expect(page.locator("#filter-lang")).to_have_value("ru")


def test_copy_actions_put_plain_text_on_the_clipboard(page: Page, live_server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_sidebar(page, live_server)
    page.keyboard.type("request refund steps")
    expect(first_result(page)).to_have_attribute("data-article-id", "refunds")
    first_result(page).locator(".copy-link").click()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(f"{live_server.url}/sidebar?article=refunds")
    first_result(page).locator(".result-title").click()
    page.locator("#copy-section").click()
    section = page.evaluate("navigator.clipboard.readText()")
    assert "<" not in section and "**" not in section and section.strip()


def test_interface_language_follows_the_browser_and_can_switch(browser, live_server) -> None:
    context = browser.new_context(locale="pl-PL")
    page = context.new_page()
    page.goto(f"{live_server.url}/sidebar")
    expect(page.locator("#q")).to_have_attribute("placeholder", "Szukaj artykułów…")
    page.select_option("#ui-lang", "fa")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#back")).to_have_text("→ بازگشت به نتایج")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    context.close()


def test_the_page_forbids_inline_scripts(page: Page, live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/sidebar")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    open_sidebar(page, live_server)
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__inline = true';
        document.head.append(s);
    }""")
    assert page.evaluate("window.__inline") is None
