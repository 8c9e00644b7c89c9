"""Permalinks: #comment-N opens the thread page that holds comment N, scrolls to it and marks it."""
from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, expect

pytestmark = pytest.mark.browser

PAGE_SIZE = 20  # the widget's default data-engagement-limit


def _seed_long_thread(live_api: HttpApi, article: str, top_level: int) -> list[dict[str, Any]]:
    """top_level comments, oldest first; the 30th has replies three levels deep. Returns every comment."""
    posted: list[dict[str, Any]] = []
    for n in range(top_level):
        posted.append(live_api.post_comment(article, f"Top-level thought number {n + 1}.", live_api.reader()))
    parent = posted[29]
    for depth in range(1, 4):
        parent = live_api.post_comment(article, f"A reply at depth {depth}.", live_api.reader(),
                                       parent_id=parent["id"])
        posted.append(parent)
    return posted


def _open_at(new_tab: Any, site: PublisherSite, article: str, fragment: str = "") -> tuple[Any, Any, Any]:
    """A new reader's tab on the article page (with ``#fragment``): the tab, its page and the widget."""
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article) + fragment)
    return tab, page, page.locator("#comments")


def _in_view(locator: Any) -> bool:
    return bool(locator.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }"))


def test_a_permalink_opens_the_page_that_holds_the_comment_and_marks_it(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-permalink"
    posted = _seed_long_thread(live_api, article, 45)
    deep = posted[-1]
    tab, page, widget = _open_at(new_tab, site, article, f"#comment-{deep['id']}")
    card = page.locator(f"#comment-{deep['id']}")
    expect(card).to_have_class("eng-card eng-target")
    expect(card).to_be_focused()
    assert _in_view(card)
    # The second page (comments 21-40) is shown, with a way back to the start and on to the rest.
    top = widget.locator(".eng-thread > .eng-item")
    expect(top).to_have_count(PAGE_SIZE)
    expect(top.first).to_contain_text("Top-level thought number 21.")
    expect(widget.get_by_role("button", name="Show earlier comments")).to_be_visible()
    expect(widget.get_by_role("button", name="Load more comments")).to_be_visible()

    # A link inside the page (the comment's time) moves the mark without reloading the thread.
    other = posted[25]
    mark = len(live_api.log.served)
    page.locator(f"#comment-{other['id']} .eng-permalink").click()
    expect(page.locator(f"#comment-{other['id']}")).to_have_class("eng-card eng-target")
    expect(card).to_have_class("eng-card")
    assert page.evaluate("() => location.hash") == f"#comment-{other['id']}"
    assert not [s for s in live_api.log.served[mark:] if s.path.endswith("/comments")]

    widget.get_by_role("button", name="Show earlier comments").click()
    expect(top.first).to_contain_text("Top-level thought number 1.")
    expect(widget.get_by_role("button", name="Show earlier comments")).to_be_hidden()
    tab.assert_clean()


def test_copy_link_puts_the_permalink_on_the_clipboard(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-permalink-copy"
    comment = live_api.post_comment(article, "Link me.", live_api.reader())
    tab = new_tab()
    page = tab.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.origin)
    page.goto(site.url("article.html", article))
    card = page.locator(f"#comment-{comment['id']}")
    card.get_by_role("button", name="Copy link").click()
    expect(card.locator(".eng-msg")).to_have_text("Link copied.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == site.url("article.html", article) + f"#comment-{comment['id']}"

    # Without clipboard access the link is shown, to copy by hand.
    page.evaluate("() => Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    card.get_by_role("button", name="Copy link").click()
    expect(card.locator(".eng-msg a")).to_have_attribute("href", copied)
    tab.assert_clean()


def test_a_link_to_a_comment_that_is_gone_opens_the_thread_and_says_so(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-permalink-gone"
    kept = live_api.post_comment(article, "Still here.", live_api.reader())
    removed = live_api.post_comment(article, "Soon rejected.", live_api.reader())
    reply = live_api.post_comment(article, "A reply, soon rejected too.", live_api.reader(), parent_id=kept["id"])
    for comment in (removed, reply):
        live_api.ok("PATCH", f"/api/v1/mod/comments/{comment['id']}", {"status": "rejected"}, live_api.moderator())
    # A rejected top-level comment has no page; a rejected reply leads to its thread's page but is not on it.
    for gone in (removed, reply):
        tab, page, widget = _open_at(new_tab, site, article, f"#comment-{gone['id']}")
        expect(widget.locator(".eng-status")).to_have_text("The comment that link points to is no longer there.")
        expect(widget.locator(".eng-thread > .eng-item")).to_have_count(1)
        expect(page.locator(f"#comment-{kept['id']}")).to_be_visible()
        expect(widget.locator(".eng-target")).to_have_count(0)
        tab.assert_clean()
