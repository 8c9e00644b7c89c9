"""The API reference at /api/v1/docs in a real browser: it renders, under its CSP, from this origin only."""
from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, expect

pytestmark = pytest.mark.browser

THREAD = "/api/v1/articles/{key}/comments"
# Reports every CSP violation, including any the console leaves out (a refused eval, a blocked image).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_reference_renders_from_this_origin_only_under_its_csp(new_tab: Any, live_api: HttpApi) -> None:
    tab = new_tab()
    page = tab.page
    requested: list[str] = []
    elsewhere: list[str] = []

    def only_this_origin(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if _origin(url) == live_api.origin:
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.context.route("**/*", only_this_origin)
    page.add_init_script(RECORD_VIOLATIONS)
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_api.origin}/api/v1/docs")
    thread_list = page.locator(f'.opblock-get:has(.opblock-summary-path[data-path="{THREAD}"])')
    expect(thread_list.locator(".opblock-summary-description")).to_have_text(
        "A page of the thread: top-level comments with their replies nested."
    )
    expect(page.locator(".info .title")).to_contain_text("engagement")

    # Expand the operation and call it from the page: "Try it out" reaches the API (connect-src 'self').
    thread_list.locator(".opblock-summary").click()
    thread_list.get_by_role("button", name="Try it out").click()
    thread_list.locator('input[placeholder="key"]').fill("docs-article")
    thread_list.get_by_role("button", name="Execute").click()
    expect(thread_list.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")

    assert page.evaluate("() => window.__violations") == []
    tab.assert_clean()
    assert console_errors == []
    assert elsewhere == []
    assert requested and all(_origin(url) == live_api.origin for url in requested)
    paths = {urllib.parse.urlsplit(url).path for url in requested}
    assert {"/api/v1/docs", "/api/v1/openapi.json", "/api/v1/articles/docs-article/comments"} <= paths
