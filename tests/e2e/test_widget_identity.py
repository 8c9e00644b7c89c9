"""The widget on a publisher's page: it names its article for trending boxes, and it keeps
working (views, reactions, posting) when no reader token can be minted, as happens to many
readers behind one office or carrier address."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, expect

pytestmark = pytest.mark.browser

# The page's og:title, which the widget prefers to the document title.
PAGE_TITLE = "The island that keeps time by the tide"


def test_the_page_names_its_article_with_its_first_beacon(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-named"
    tab = new_tab()
    page = tab.page
    with page.expect_request(lambda r: r.url.endswith(f"/api/v1/articles/{article}/views")) as beacon:
        page.goto(site.url("article.html", article))
    sent = json.loads(beacon.value.post_data or "{}")
    assert sent["url"] == site.url("article.html", article)
    assert sent["title"] == PAGE_TITLE
    expect(page.locator("#view-count")).to_have_text("1 view")
    summary = live_api.ok("GET", f"/api/v1/articles/{article}")
    assert (summary["url"], summary["title"]) == (site.url("article.html", article), PAGE_TITLE)

    # A later page load by the same browser sends no name again.
    with page.expect_request(lambda r: r.url.endswith(f"/api/v1/articles/{article}/views")) as again:
        page.reload()
    assert again.value.post_data in (None, "")
    tab.assert_clean()


def test_without_a_reader_token_the_widget_still_counts_reacts_and_posts(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-shared-address"
    tab = new_tab()
    page = tab.page
    minted: list[str] = []

    def refuse_minting(route: Any) -> None:
        minted.append(route.request.method)
        route.fulfill(
            status=429, content_type="application/json", headers={
                "Retry-After": "60", "Access-Control-Allow-Origin": site.origin,
                "Access-Control-Expose-Headers": "Retry-After",
            },
            body=json.dumps({"error": {"code": "rate_limited", "message": "Too many requests; slow down."}}),
        )

    page.route("**/api/v1/readers", refuse_minting)
    page.goto(site.url("article.html", article))
    expect(page.locator("#view-count")).to_have_text("1 view")
    widget = page.locator("#comments")
    like = widget.locator('.eng-react[data-kind="like"]')
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    widget.locator("textarea").first.fill("Posted without a reader token.")
    widget.locator("form button[type=submit]").first.click()
    expect(widget.locator(".eng-item")).to_have_count(1)
    assert "POST" in minted  # it did try, and carried on without one
    assert live_api.ok("GET", f"/api/v1/articles/{article}")["reactions"]["like"] == 1
    tab.assert_clean()
