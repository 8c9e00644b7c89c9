"""Live threads: a visible page revalidates its thread every 30 s and offers new comments without moving."""
from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, Served, expect

pytestmark = pytest.mark.browser

SET_VISIBILITY = """state => {
  Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
  Object.defineProperty(document, 'hidden', {value: state === 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def _wait_for(page: Any, probe: Any, timeout_ms: int = 12_000) -> Any:
    """Poll probe() until it returns something truthy (the server's log fills in after the browser's call).

    The page's clock also runs on by itself, so a check that a jump found still busy comes at the next tick.
    """
    for _ in range(timeout_ms // 100):
        if result := probe():
            return result
        page.wait_for_timeout(100)
    raise AssertionError("timed out waiting for the server's log")


def _open_with_clock(new_tab: Any, site: PublisherSite, article: str) -> tuple[Any, Any]:
    """A new reader's tab on the article, with the page's clock under the test's control."""
    tab = new_tab()
    page = tab.page
    page.clock.install()
    page.goto(site.url("article.html", article))
    return tab, page


def _thread_reads(live_api: HttpApi, article: str, since: int) -> list[Served]:
    return [served for served in live_api.log.served[since:]
            if served.method == "GET" and served.path == f"/api/v1/articles/{article}/comments"]


def test_new_comments_are_offered_not_inserted_and_unchanged_threads_cost_a_304(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-live-offer"
    live_api.post_comment(article, "The first word on the tide clock.", live_api.reader())
    tab, page = _open_with_clock(new_tab, site, article)
    widget = page.locator("#comments")
    items = widget.locator(".eng-thread > .eng-item")
    expect(items).to_have_count(1)
    fresh = widget.locator(".eng-fresh")
    expect(fresh).to_be_hidden()

    # The first view names the article (its version moves); after that, nothing changes: every 30 s the
    # browser revalidates its copy with If-None-Match and the service answers 304.
    expect(widget).to_have_attribute("data-engagement-views", "1")
    page.clock.fast_forward("00:31")
    _wait_for(page, lambda: _thread_reads(live_api, article, 0)[1:])
    mark = len(live_api.log.served)
    page.clock.fast_forward("00:31")
    reads = _wait_for(page, lambda: _thread_reads(live_api, article, mark))
    assert [(s.status, bool(s.if_none_match)) for s in reads] == [(304, True)]
    expect(fresh).to_be_hidden()

    for body in ("Second from another reader.", "Third, also from elsewhere."):
        live_api.post_comment(article, body, live_api.reader())
    mark = len(live_api.log.served)
    page.clock.fast_forward("00:31")
    expect(fresh).to_have_text("2 new comments")
    expect(items).to_have_count(1)  # offered, not inserted: the page does not move
    assert [s.status for s in _thread_reads(live_api, article, mark)] == [200]

    fresh.click()
    expect(items).to_have_count(3)
    expect(fresh).to_be_hidden()
    expect(widget.locator(".eng-heading")).to_have_text("3 comments")
    tab.assert_clean()


def test_hidden_tabs_do_not_poll_and_ask_again_when_shown(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-live-hidden"
    tab, page = _open_with_clock(new_tab, site, article)
    widget = page.locator("#comments")
    expect(widget).to_have_attribute("data-engagement-comments", "0")

    page.evaluate(SET_VISIBILITY, "hidden")
    mark = len(live_api.log.served)
    live_api.post_comment(article, "Posted while the reader looked elsewhere.", live_api.reader())
    page.clock.fast_forward("05:00")
    page.wait_for_timeout(300)
    assert _thread_reads(live_api, article, mark) == []

    page.evaluate(SET_VISIBILITY, "visible")
    page.clock.fast_forward("00:06")
    expect(widget.locator(".eng-fresh")).to_have_text("1 new comment")
    assert len(_thread_reads(live_api, article, mark)) == 1
    tab.assert_clean()


def test_a_site_can_turn_live_checks_off(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-live-off"
    tab, page = _open_with_clock(new_tab, site, article)
    page.evaluate("""article => {
      document.querySelector('#comments').remove();
      const el = Object.assign(document.createElement('div'), {id: 'quiet'});
      el.setAttribute('data-engagement-article', article);
      el.setAttribute('data-engagement-live', 'off');
      document.querySelector('#discussion').append(el);
      return EngagementWidget.mount(el);
    }""", article)
    expect(page.locator("#quiet")).to_have_attribute("data-engagement-comments", "0")
    mark = len(live_api.log.served)
    page.clock.fast_forward("02:00")
    page.wait_for_timeout(300)
    assert _thread_reads(live_api, article, mark) == []
    tab.assert_clean()
