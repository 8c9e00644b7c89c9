"""The widget offers only what the service will accept, and says what happened in one plain line per place."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, expect

pytestmark = pytest.mark.browser

DOWN = "The comment service is not answering right now. Try again in a moment."
PREMODERATED = "Comments here are checked by a moderator before they appear."


def _open(new_tab: Any, site: PublisherSite, article: str) -> tuple[Any, Any, Any]:
    tab = new_tab()
    tab.page.goto(site.url("article.html", article))
    widget = tab.page.locator("#comments")
    return tab, widget, widget.locator(".eng-compose form")


def _post(compose: Any, body: str, **labels: str) -> None:
    compose.get_by_label("Your comment").fill(body)
    for label, value in labels.items():
        compose.get_by_label(label).fill(value)
    compose.get_by_role("button", name="Post comment").click()


def test_no_votes_or_report_on_ones_own_comment_even_after_the_edit_window(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-offers-own"
    theirs = live_api.post_comment(article, "Someone else's thought.", live_api.reader())
    tab, widget, compose = _open(new_tab, site, article)
    page = tab.page
    page.clock.install()
    page.reload()
    _post(compose, "My own thought.")
    mine = widget.locator(".eng-thread > .eng-item", has_text="My own thought.").locator("> .eng-card")
    their_card = widget.locator(f'[data-comment-id="{theirs["id"]}"] > .eng-card')

    def offers(card: Any, own: bool) -> None:
        for name in ("Upvote", "Downvote", "Report"):
            expect(card.get_by_role("button", name=name)).to_have_count(0 if own else 1)
        expect(card.get_by_role("button", name="Reply")).to_have_count(1)

    expect(mine.get_by_role("button", name="Edit")).to_be_visible()
    offers(mine, own=True)
    offers(their_card, own=False)
    page.reload()
    expect(mine.get_by_role("button", name="Edit")).to_be_visible()
    offers(mine, own=True)
    # After the window the edit token is gone; the remembered id still keeps the reader off their own comment.
    page.clock.fast_forward("16:00")
    expect(mine.get_by_role("button", name="Edit")).to_have_count(0)
    page.reload()
    expect(their_card).to_be_visible()
    expect(mine.get_by_role("button", name="Edit")).to_have_count(0)
    expect(mine.locator(".eng-badge")).to_have_text("You")
    offers(mine, own=True)
    offers(their_card, own=False)
    tab.assert_clean()


def test_a_closed_thread_offers_no_controls_and_says_so_at_the_top(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-offers-closed"
    live_api.post_comment(article, "Said while it was open.", live_api.reader())
    live_api.ok("PUT", f"/api/v1/mod/articles/{article}", {"comments_closed": True}, live_api.moderator())
    tab, widget, _ = _open(new_tab, site, article)
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(1)
    notice = widget.locator(".eng-closed")
    expect(notice).to_have_text("Comments are closed.")
    expect(notice).to_be_visible()
    assert notice.evaluate("el => el === el.closest('.eng').firstElementChild")
    expect(widget.locator(".eng-compose")).to_be_hidden()
    expect(widget.locator("form:visible, textarea:visible")).to_have_count(0)
    # Nothing the server would refuse: a permalink still works on a closed thread.
    expect(widget.locator(".eng-thread button")).to_have_text(["Copy link"])
    expect(widget.locator(".eng-thread .eng-score")).to_have_text("0")
    tab.assert_clean()


def test_a_premoderated_thread_says_so_and_shows_a_held_comment_to_its_author_only(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-offers-premod"
    live_api.ok("PUT", f"/api/v1/mod/articles/{article}", {"moderation": "pre"}, live_api.moderator())
    approved = live_api.post_comment(article, "Approved earlier.", live_api.reader())
    live_api.ok("PATCH", f"/api/v1/mod/comments/{approved['id']}", {"status": "approved"}, live_api.moderator())
    tab, widget, compose = _open(new_tab, site, article)
    page = tab.page
    expect(compose.locator(".eng-premod")).to_have_text(PREMODERATED)
    expect(compose.locator(".eng-premod")).to_be_visible()
    _post(compose, "Held for a moderator.")
    held = widget.locator(".eng-item", has_text="Held for a moderator.")
    expect(held).to_have_count(1)
    expect(held.locator(".eng-wait")).to_have_text("Waiting for a moderator")
    expect(widget.locator(".eng-heading")).to_have_text("1 comment")
    expect(widget.get_by_text("Waiting for a moderator")).to_have_count(1)

    # Reloading the thread (a new sort) shows it once, still marked.
    widget.get_by_label("Sort").select_option("newest")
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(2)
    expect(held).to_have_count(1)
    widget.get_by_label("Sort").select_option("oldest")
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(2)
    expect(held).to_have_count(1)
    expect(widget.get_by_text("Waiting for a moderator")).to_have_count(1)

    other, other_widget, other_compose = _open(new_tab, site, article)
    expect(other_widget.locator(".eng-thread > .eng-item")).to_have_count(1)
    expect(other_compose.locator(".eng-premod")).to_be_visible()
    expect(other_widget.get_by_text("Held for a moderator.")).to_have_count(0)
    assert page.evaluate("() => Object.keys(localStorage).filter(k => localStorage.getItem(k).includes('Held for'))") \
        == [k for k in page.evaluate("() => Object.keys(localStorage)") if k.endswith(":edits")]
    tab.assert_clean()
    other.assert_clean()


def test_an_open_thread_has_no_premoderation_note(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    tab, widget, compose = _open(new_tab, site, "e2e-offers-postmod")
    expect(widget.locator(".eng-thread")).to_be_attached()
    expect(widget).to_have_attribute("data-engagement-comments", "0")
    expect(compose.locator(".eng-premod")).to_be_hidden()
    tab.assert_clean()


def test_one_message_per_place_and_a_down_service_is_not_the_readers_fault(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-offers-messages"
    tab, widget, compose = _open(new_tab, site, article)
    page = tab.page
    message = compose.locator(".eng-msg")
    _post(compose, "First, and it works.")
    expect(message).to_have_text("Your comment is posted.")

    endpoint = f"{live_api.origin}/api/v1/articles/{article}/comments"
    cors = {"Access-Control-Allow-Origin": site.origin}

    def down(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
        else:
            route.fulfill(status=503, json={"error": {"code": "unavailable", "message": "Database unavailable."}},
                          headers=cors)

    page.route(endpoint, down)
    _post(compose, "Second, while the service is down.")
    expect(message).to_have_text(f"{DOWN} Retry")
    expect(widget.locator(".eng")).not_to_contain_text("Your comment is posted.")
    expect(widget.locator(".eng")).not_to_contain_text("connection")
    expect(compose.get_by_role("button", name="Post comment")).to_be_enabled()
    compose.get_by_role("button", name="Post comment").click()
    expect(widget.get_by_text(DOWN)).to_have_count(1)
    page.unroute(endpoint)
    message.get_by_role("button", name="Retry").click()
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(2)
    expect(message).to_have_text("Your comment is posted.")
    tab.assert_clean()


def test_field_problems_in_plain_words_and_a_website_without_scheme(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-offers-fields"
    tab, widget, compose = _open(new_tab, site, article)
    page = tab.page
    expect(compose.get_by_label("Website (optional)")).to_have_attribute("maxlength", "2000")
    expect(compose.get_by_label("Name (optional)")).to_have_attribute("maxlength", "80")
    expect(compose.get_by_label("Your comment")).to_have_attribute("maxlength", "10000")

    _post(compose, "Checking the address.", **{"Email (optional)": "not-an-email"})
    problem = compose.locator('[data-field="email"] .eng-field-error')
    expect(problem).to_have_text("Please check the e-mail address.")
    expect(widget).not_to_contain_text("@-sign")

    compose.get_by_label("Email (optional)").fill("")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(f"/{article}/comments")) as sent:
        _post(compose, "With a bare website.", **{"Website (optional)": "example.org"})
    assert json.loads(sent.value.post_data)["author_url"] == "https://example.org"
    mine = widget.locator(".eng-thread > .eng-item", has_text="With a bare website.")
    expect(mine.locator("a.eng-author")).to_have_attribute("href", "https://example.org")
    expect(problem).to_be_hidden()
    tab.assert_clean()
