"""The moderators' console at /mod, driven in Chromium against the live service.

Each test works on articles of its own (the session's database is shared), and narrows the
console's queue to them with the article filter.
"""
from __future__ import annotations

import os
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import ActivityBucket, Comment
from tests.e2e.conftest import ARTIFACTS, HttpApi, PublisherSite, Tab, expect
from tests.e2e.test_widget import _publish_screenshot

pytestmark = pytest.mark.browser

TOKEN_KEY = "engagement-mod-token"


def _token(api: HttpApi, role: str, name: str) -> str:
    """A new API token made with `flask tokens create`, as an operator would."""
    result = api.app.test_cli_runner().invoke(args=["tokens", "create", "--name", name, "--role", role])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


_TOKENS: dict[tuple[int, str], str] = {}


def token_for(api: HttpApi, role: str) -> str:
    key = (id(api), role)
    if key not in _TOKENS:
        _TOKENS[key] = _token(api, role, f"night-{role}")
    return _TOKENS[key]


def sign_in(new_tab: Any, api: HttpApi, role: str = "moderator", **tab_options: Any) -> Tab:
    tab = new_tab(**tab_options)
    page = tab.page
    page.goto(f"{api.origin}/mod")
    page.get_by_label("API token").fill(token_for(api, role))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who-name")).to_have_text(f"night-{role}")
    expect(page.locator("#who-role")).to_have_text(role)
    return tab


def filter_queue(page: Any, article: str, tab: str = "Pending") -> None:
    chosen = page.get_by_role("tab", name=tab)
    # The tabs widen when their counts arrive after signing in: click once they have, or a
    # slow answer can move the tab from under the click.
    expect(chosen.locator(".count")).to_have_text(re.compile(r"\(\d+\)"))
    chosen.click()
    expect(chosen).to_have_attribute("aria-selected", "true")
    page.get_by_label("Article key").fill(article)
    page.get_by_role("button", name="Filter").click()
    # The tab's own (unfiltered) answer may land first; the list is busy until the filtered one has.
    expect(page.locator("#queue")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#queue > li.card").first).to_have_attribute("data-article", article)


def premoderated(api: HttpApi, article: str, bodies: list[str], **fields: Any) -> list[dict[str, Any]]:
    api.ok("PUT", f"/api/v1/mod/articles/{article}", {"moderation": "pre", "title": f"Story {article}"}, api.moderator())
    return [api.post_comment(article, body, api.reader(), **fields) for body in bodies]


def status_of(api: HttpApi, comment_id: int, article: str) -> str:
    page = api.ok("GET", f"/api/v1/mod/comments?status=all&article={article}&limit=100", headers=api.moderator())
    return next(c["status"] for c in page["comments"] if c["id"] == comment_id)


def settled_statuses(api: HttpApi, comment_ids: list[int], article: str, expected: list[str]) -> list[str]:
    """The comments' statuses once they equal ``expected``, or as they are after ten seconds.

    A card leaves the queue as its decision is sent, so the queue can be empty while the
    last decisions are still on their way to the server.
    """
    deadline = time.monotonic() + 10
    while True:
        statuses = [status_of(api, comment_id, article) for comment_id in comment_ids]
        if statuses == expected or time.monotonic() > deadline:
            return statuses
        time.sleep(0.1)


class HeldAnswer:
    """The first GET answer to ``endpoint`` (a route pattern): fetched from the service,
    then held back from the page until ``deliver``, so it arrives after later ones."""

    def __init__(self, page: Any, endpoint: str):
        self._page = page
        self._endpoint = endpoint
        self._held: list[tuple[Any, Any]] = []
        page.route(endpoint, self._hold)

    def _hold(self, route: Any) -> None:
        if route.request.method != "GET" or self._held:
            route.continue_()
            return
        self._held.append((route, route.fetch()))

    def wait(self) -> str:
        """Wait until the answer is held; its body."""
        for _ in range(200):
            if self._held:
                break
            self._page.wait_for_timeout(25)
        assert len(self._held) == 1
        return self._held[0][1].text()

    def deliver(self) -> None:
        """Hand the held answer to the page, and give the page time to read it."""
        route, answer = self._held[0]
        with self._page.expect_response(lambda response: response.url == route.request.url):
            route.fulfill(response=answer)
        self._page.unroute(self._endpoint)
        self._page.wait_for_timeout(200)


def cards(page: Any) -> Any:
    return page.locator("#queue > li.card")


def test_a_moderator_signs_in_sees_name_and_role_and_the_token_stays_in_the_tab(new_tab: Any, live_api: HttpApi) -> None:
    premoderated(live_api, "e2e-mod-signin", ["Held for review."])
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, "e2e-mod-signin")
    expect(cards(page)).to_have_count(1)
    expect(page.get_by_role("button", name="Purge")).to_have_count(0)  # admins only
    expect(page.get_by_role("tab", name="Pending")).to_contain_text("(")
    token = token_for(live_api, "moderator")
    assert token not in page.url
    assert page.context.cookies() == []
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") == token
    page.reload()  # the tab keeps it
    expect(page.locator("#who-name")).to_have_text("night-moderator")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    tab.assert_clean()


def test_a_wrong_token_is_refused(new_tab: Any, live_api: HttpApi) -> None:
    tab = new_tab()
    page = tab.page
    page.goto(f"{live_api.origin}/mod")
    page.get_by_label("API token").fill("eng_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("not accepted")
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    tab.errors.clear()  # the console logs nothing itself; a refused fetch is not a script error
    tab.assert_clean()


def test_an_admin_purges_with_a_second_click(new_tab: Any, live_api: HttpApi) -> None:
    [comment] = premoderated(live_api, "e2e-mod-admin", ["Erase me."], author_name="Eve")
    tab = sign_in(new_tab, live_api, "admin")
    page = tab.page
    filter_queue(page, "e2e-mod-admin")
    purge = cards(page).first.get_by_role("button", name="Purge")
    purge.click()
    expect(purge).to_have_text("Really purge? Click again")
    purge.click()
    expect(cards(page)).to_have_count(0)
    expect(page.locator("#live")).to_have_text(f"Purged comment {comment['id']}.")
    assert status_of(live_api, comment["id"], "e2e-mod-admin") == "rejected"
    tab.assert_clean()


def test_a_queue_is_cleared_from_the_keyboard_and_a_decision_undone(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-keys"
    comments = premoderated(live_api, article, ["First.", "Second.", "Third.", "Fourth."])
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article)
    expect(cards(page)).to_have_count(4)
    expect(cards(page).first).to_be_focused()  # newest first
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("a")
    expect(cards(page)).to_have_count(3)
    expect(page.locator("#toast")).to_contain_text(f"Approved: comment {comments[3]['id']}.")
    page.get_by_role("button", name="Undo").click()
    expect(cards(page)).to_have_count(4)
    expect(page.locator("#live")).to_have_text("Undone.")
    assert status_of(live_api, comments[3]["id"], article) == "pending"
    for key in ("a", "r", "s", "a"):
        page.keyboard.press(key)
    expect(cards(page)).to_have_count(0)
    expect(page.locator("#queue-empty")).to_be_visible()
    decided = ["approved", "rejected", "spam", "approved"]
    assert settled_statuses(live_api, [c["id"] for c in reversed(comments)], article, decided) == decided
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard")).to_be_visible()
    page.keyboard.press("Escape")
    tab.assert_clean()


def test_p_pins_and_unpins_a_comment_the_readers_then_see_first(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-pin"
    older, newer = premoderated(live_api, article, ["Posted first.", "Posted second, worth pinning."])
    for comment in (older, newer):
        live_api.ok("PATCH", f"/api/v1/mod/comments/{comment['id']}", {"status": "approved"}, live_api.moderator())
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article, tab="Approved")
    expect(cards(page)).to_have_count(2)
    expect(cards(page).first).to_be_focused()  # newest first: the one to pin
    page.keyboard.press("p")
    expect(page.locator("#live")).to_have_text("Pinned.")
    pinned = page.locator(f'#queue > li.card[data-id="{newer["id"]}"]')
    expect(pinned.locator(".badge.pinned")).to_have_text("pinned")
    expect(pinned.get_by_role("button", name="Unpin")).to_be_visible()
    assert [c["id"] for c in live_api.thread(article)["comments"]] == [newer["id"], older["id"]]
    page.keyboard.press("p")
    expect(page.locator("#live")).to_have_text("Unpinned.")
    expect(pinned.locator(".badge.pinned")).to_have_count(0)
    assert [c["id"] for c in live_api.thread(article)["comments"]] == [older["id"], newer["id"]]
    tab.assert_clean()


def test_bulk_reject_the_selection(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-bulk"
    comments = premoderated(live_api, article, ["Buy now.", "Cheap pills.", "A fair point."])
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article)
    expect(cards(page)).to_have_count(3)
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    page.keyboard.press("Shift+R")
    expect(cards(page)).to_have_count(1)
    expect(cards(page).first).to_contain_text("Buy now.")
    expect(page.locator("#toast")).to_contain_text("Rejected: 2 comments.")
    assert [status_of(live_api, c["id"], article) for c in comments] == ["pending", "rejected", "rejected"]
    tab.assert_clean()


def test_ban_from_a_comment_then_the_authors_next_post_is_refused(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-ban"
    troll = live_api.reader()
    live_api.ok("PUT", f"/api/v1/mod/articles/{article}", {"moderation": "pre"}, live_api.moderator())
    live_api.post_comment(article, "Something nasty.", troll)
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article)
    card = cards(page).first
    try:
        card.get_by_role("button", name="Ban author…").click()
        card.get_by_label("Reason").fill("Abuse, again")
        card.get_by_label("Duration").select_option(label="7 days")
        card.get_by_role("button", name="Ban author", exact=True).click()
        expect(card).to_contain_text("Author banned.")
        refused = live_api.call("POST", f"/api/v1/articles/{article}/comments", {"body": "Back again."}, troll)
        assert (refused.status, refused.body["error"]["code"]) == (403, "banned")
        # Lifted from the console too: every test client shares one address, which the ban covers.
        page.get_by_role("button", name="Bans").click()
        row = page.locator("#bans > li", has_text="Abuse, again")
        expect(row).to_contain_text("until")
        row.get_by_role("button", name="Lift ban").click()
        expect(row).to_have_count(0)
        expect(page.locator("#live")).to_have_text("Ban lifted.")
        live_api.post_comment(article, "Back, and calmer.", troll)
    finally:
        for ban in live_api.ok("GET", "/api/v1/mod/bans", headers=live_api.moderator())["bans"]:
            live_api.call("DELETE", f"/api/v1/mod/bans/{ban['id']}", headers=live_api.moderator())
    tab.assert_clean()


def test_the_blocklist_editor_holds_then_refuses_comments_with_a_blocked_word(
    new_tab: Any, live_api: HttpApi
) -> None:
    article = "e2e-mod-blocklist"
    word = "quuxblocked"  # no other test says it: the live server's blocklist is shared
    tab = sign_in(new_tab, live_api)
    page = tab.page
    # While the stored list is on its way nothing can be typed (it would be overwritten on arrival).
    held: list[Any] = []
    endpoint = f"{live_api.origin}/api/v1/mod/blocklist"
    page.route(endpoint, lambda route: held.append(route) if route.request.method == "GET" else route.continue_())
    page.get_by_role("button", name="Blocklist").click()
    words = page.get_by_label("Blocked words, one per line (whole words, any case)")
    expect(words).to_be_disabled()
    expect(page.get_by_role("button", name="Save blocklist")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    page.unroute(endpoint)
    expect(words).to_be_enabled()
    try:
        words.fill(f"  {word}  \n\nanotherblocked")
        page.get_by_label("A comment with one is").select_option(label="held for review")
        page.get_by_role("button", name="Save blocklist").click()
        expect(page.locator("#live")).to_have_text("Blocklist saved: 2 words.")
        expect(words).to_have_value(f"{word}\nanotherblocked")  # as stored: trimmed, blank lines gone
        held = live_api.post_comment(article, f"This says {word.upper()} loudly.", live_api.reader())
        assert held["status"] == "pending"

        page.get_by_label("A comment with one is").select_option(label="refused")
        # The live region still says so from the first save: wait for this save's answer.
        with page.expect_response(lambda answer: answer.url == endpoint and answer.request.method == "PUT") as saved:
            page.get_by_role("button", name="Save blocklist").click()
        assert saved.value.status == 200
        expect(page.locator("#live")).to_have_text("Blocklist saved: 2 words.")
        refused = live_api.call("POST", f"/api/v1/articles/{article}/comments", {"body": f"Again: {word}."},
                                live_api.reader())
        assert (refused.status, refused.body["error"]["code"]) == (422, "validation_error")

        page.reload()  # what the editor shows comes from the service
        page.get_by_role("button", name="Blocklist").click()
        expect(words).to_have_value(f"{word}\nanotherblocked")
        expect(page.get_by_label("A comment with one is")).to_have_value("reject")
    finally:
        live_api.ok("PUT", "/api/v1/mod/blocklist", {"words": [], "action": "hold"}, live_api.moderator())
    tab.assert_clean()


def test_other_comments_by_the_author_and_the_revision_history(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-history"
    ana = live_api.reader()
    live_api.post_comment(article, "An old remark of mine.", ana)
    live_api.post_comment(article, "Someone else entirely.", live_api.reader())
    latest = live_api.post_comment(article, "Original wording.", ana)
    live_api.ok("PATCH", f"/api/v1/mod/comments/{latest['id']}", {"body": "Moderated wording."}, live_api.moderator())
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article, tab="Approved")
    card = page.locator(f'#queue > li[data-id="{latest["id"]}"]')
    expect(card.locator(".body").first).to_have_text("Moderated wording.")
    card.get_by_role("button", name="edited").click()
    expect(card.locator(".extra")).to_contain_text("Version 1")
    expect(card.locator(".extra")).to_contain_text("Original wording.")
    expect(card.locator(".extra")).to_contain_text("replaced by e2e-moderator")
    card.get_by_role("button", name="Edit", exact=True).click()
    editor = card.get_by_label("Text (Markdown)")
    expect(editor).to_have_value("Moderated wording.")
    editor.fill("Moderated wording, <b>trimmed</b>.")
    card.get_by_role("button", name="Save edit").click()
    card = page.locator(f'#queue > li[data-id="{latest["id"]}"]')  # the card is drawn anew
    expect(card.locator(".body").first).to_have_text("Moderated wording, <b>trimmed</b>.")  # HTML typed stays text
    expect(card).to_be_focused()
    card.get_by_role("button", name="edited").click()
    expect(card.locator(".extra")).to_contain_text("Version 2")
    card.get_by_role("button", name="Other comments by this author").click()
    others = card.locator(".extra")
    expect(others).to_contain_text("An old remark of mine.")
    expect(others).not_to_contain_text("Someone else entirely.")
    expect(others).not_to_contain_text("@")  # never an email or an identity
    tab.assert_clean()


def _open_thread_in_articles_view(new_tab: Any, live_api: HttpApi, article: str) -> tuple[Any, Any]:
    """A signed-in console showing ``article`` (a new thread with one comment) in the
    Articles view: the tab, and the article's row."""
    live_api.post_comment(article, "Said while it was open.", live_api.reader())
    tab = sign_in(new_tab, live_api)
    page = tab.page
    page.get_by_role("button", name="Articles").click()
    page.locator("#articles-filter").get_by_label("Search").fill(article)
    page.get_by_role("button", name="Show").click()
    row = page.locator("#articles > li", has_text=article)
    expect(row).to_have_count(1)
    return tab, row


def test_closing_a_thread_from_the_console_shows_the_widgets_closed_message(
    new_tab: Any, live_api: HttpApi, site: PublisherSite
) -> None:
    article = "e2e-mod-close"
    tab, row = _open_thread_in_articles_view(new_tab, live_api, article)
    page = tab.page
    row.get_by_role("button", name="Close comments").click()
    expect(page.locator("#articles > li", has_text=article).get_by_role("button", name="Reopen comments")).to_be_visible()
    reader = new_tab()
    reader.page.goto(site.url("article.html", article))
    expect(reader.page.locator("#comments .eng-closed")).to_have_text("Comments are closed.")
    tab.assert_clean()
    reader.assert_clean()


def test_a_list_answer_that_predates_a_save_does_not_undo_it_on_screen(
    new_tab: Any, live_api: HttpApi
) -> None:
    article = "e2e-mod-close-race"
    tab, row = _open_thread_in_articles_view(new_tab, live_api, article)
    page = tab.page
    # Another list load is answered by the service (the thread still open), but the answer
    # is held back on its way to the page; meanwhile the moderator closes the thread.
    held = HeldAnswer(page, f"{live_api.origin}/api/v1/mod/articles?*")
    page.get_by_role("button", name="Show").click()
    answered = held.wait()
    row.get_by_role("button", name="Close comments").click()
    expect(page.locator("#live")).to_have_text(f"Saved {article}.")
    expect(row.get_by_role("button", name="Reopen comments")).to_be_visible()
    # The list as it was before the save arrives last: it is dropped, not drawn.
    assert '"comments_closed":false' in answered.replace(" ", "")  # answered before the save
    held.deliver()
    expect(row.get_by_role("button", name="Reopen comments")).to_be_visible()
    expect(row).to_contain_text("closed")
    tab.assert_clean()


def test_the_audit_log_shows_the_consoles_decisions(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-audit"
    [comment] = premoderated(live_api, article, ["Audit me."])
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article)
    page.keyboard.press("r")
    expect(cards(page)).to_have_count(0)
    # The card leaves as the decision is sent; its toast comes with the server's answer.
    expect(page.locator("#toast")).to_contain_text(f"Rejected: comment {comment['id']}.")
    page.get_by_role("button", name="Audit log").click()
    page.get_by_label("Target").fill(f"comment:{comment['id']}")
    page.locator("#audit-filter").get_by_role("button", name="Filter").click()
    rows = page.locator("#audit > tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("night-moderator")
    expect(rows.first).to_contain_text("comment.status")
    expect(rows.first).to_contain_text('"after":"rejected"')
    tab.assert_clean()


def test_a_slow_unfiltered_audit_answer_does_not_replace_the_filtered_one(new_tab: Any, live_api: HttpApi) -> None:
    article = "e2e-mod-audit-race"
    [comment] = premoderated(live_api, article, ["Race me."])
    live_api.ok("PATCH", f"/api/v1/mod/comments/{comment['id']}", {"status": "rejected"}, live_api.moderator())
    tab = sign_in(new_tab, live_api)
    page = tab.page
    # The log's first (unfiltered) answer is held back until the filtered one has been drawn.
    held = HeldAnswer(page, f"{live_api.origin}/api/v1/mod/audit?*")
    page.get_by_role("button", name="Audit log").click()
    held.wait()
    page.get_by_label("Target").fill(f"comment:{comment['id']}")
    page.locator("#audit-filter").get_by_role("button", name="Filter").click()
    rows = page.locator("#audit > tr")
    expect(rows).to_have_count(1)
    held.deliver()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"comment:{comment['id']}")
    tab.assert_clean()


HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    '<svg><script>window.__pwned=1</script></svg>',
    '<a href="javascript:window.__pwned=1">click</a>',
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<p style="background:url(javascript:window.__pwned=1)" onmouseover="window.__pwned=1">hover</p>',
    '<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>',
]


def test_hostile_html_runs_no_script_in_the_console(new_tab: Any, live_api: HttpApi) -> None:
    """The service sanitises on write; here the stored HTML is forged past it, so the console's own
    re-sanitising is what stands between it and the moderator."""
    article = "e2e-mod-hostile"
    hostile_name = '<img src=x onerror="window.__pwned=1">'
    live_api.ok("PUT", f"/api/v1/mod/articles/{article}",
                {"moderation": "pre", "title": '<img src=x onerror="window.__pwned=1">'}, live_api.moderator())
    parent = live_api.post_comment(article, "parent", live_api.reader())
    live_api.ok("PATCH", f"/api/v1/mod/comments/{parent['id']}", {"status": "approved"}, live_api.moderator())
    posted = [live_api.post_comment(article, f"hostile {n}", live_api.reader(), author_name=hostile_name,
                                    parent_id=parent["id"]) for n in range(len(HOSTILE))]
    with live_api.app.app_context():
        for comment, html in zip(posted, HOSTILE):
            db.session.execute(sa.update(Comment).where(Comment.id == comment["id"]).values(body_html=html))
        db.session.execute(sa.update(Comment).where(Comment.id == parent["id"]).values(body_html=HOSTILE[0]))
        db.session.commit()
    tab = sign_in(new_tab, live_api)
    page = tab.page
    filter_queue(page, article)
    expect(cards(page)).to_have_count(len(HOSTILE))
    expect(cards(page).first.locator(".author")).to_have_text(hostile_name)  # shown as text
    for card in cards(page).all():
        card.hover()
        card.focus()
    assert page.locator("#queue img, #queue svg, #queue script, #queue iframe, #queue [style], #queue math").count() == 0
    assert page.locator('#queue a[href^="javascript"]').count() == 0
    assert page.evaluate("() => [...document.querySelectorAll('#queue *')].some("
                         "el => [...el.attributes].some(a => a.name.startsWith('on')))") is False
    page.wait_for_timeout(300)
    # Chromium reports an inline handler or style attribute as a CSP violation as soon as any
    # HTML is parsed in the page, even into the sanitiser's inert template (where nothing runs)
    # and before the sanitiser drops it. Those reports are expected; no other kind is.
    parse_time = ("Executing inline event handler violates", "Applying inline style violates")
    assert tab.csp_violations and all(text.startswith(parse_time) for text in tab.csp_violations)
    tab.csp_violations.clear()
    tab.assert_clean()  # no dialog, no script error, window.__pwned unset


# --- screenshots for docs/moderation.md --------------------------------------------------------

def _seed_month(api: HttpApi) -> None:
    """Thirty days of comments, flags and views, as a small newsroom might have them."""
    moderator = api.moderator()
    stories = [("harbour-clock", "The island that keeps time by the tide"),
               ("night-ferries", "Night ferries return to the northern route"),
               ("budget-vote", "Council budget vote delayed again")]
    for key, title in stories:
        api.ok("PUT", f"/api/v1/mod/articles/{key}", {"title": title, "url": f"https://news.example/{key}"}, moderator)
    api.ok("PUT", "/api/v1/mod/articles/budget-vote", {"moderation": "pre"}, moderator)
    ana, ben = api.reader(), api.reader()
    top = api.post_comment("harbour-clock", "The float design is *brilliant*. Who maintains the chain now?", ana,
                           author_name="Ana Ruiz")
    api.post_comment("harbour-clock", "Wenna does, every spring. It says so in the piece.", ben,
                     author_name="Ben", parent_id=top["id"])
    for n in range(14):
        api.post_comment(stories[n % 2][0], f"Comment number {n} about the story, with a thought or two.", api.reader(),
                         author_name=f"Reader {n}")
    held = [("Ben", "The council should publish the **full** figures before any vote."),
            ("Cleo", "Buy cheap watches at https://spam.example and https://spam.example/2 and https://spam.example/3 now"),
            (None, "Delayed again? This is the third time this year.")]
    for name, body in held:
        api.post_comment("budget-vote", body, api.reader(), **({"author_name": name} if name else {}))
    flagged = api.post_comment("night-ferries", "Anyone who takes the night ferry deserves what they get.",
                               api.reader(), author_name="Dev")
    for _ in range(2):
        api.ok("POST", f"/api/v1/comments/{flagged['id']}/flags", {"reason": "abuse", "note": "Hostile to readers"},
               api.reader())
    now = datetime.now(timezone.utc)
    with api.app.app_context():
        ids = db.session.scalars(sa.select(Comment.id).order_by(Comment.id)).all()
        for n, comment_id in enumerate(ids[:-4]):  # spread the older ones over the month
            db.session.execute(sa.update(Comment).where(Comment.id == comment_id)
                               .values(created_at=now - timedelta(days=(n * 7) % 29, hours=n % 5)))
        article_id = db.session.scalar(sa.text("SELECT id FROM articles WHERE key = 'harbour-clock'"))
        for day in range(30):
            hour = (now - timedelta(days=day)).replace(minute=0, second=0, microsecond=0)
            db.session.merge(ActivityBucket(article_id=article_id, hour=hour, views=40 + (day * 37) % 90,
                                            comments=0, reactions=0))
        db.session.commit()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_queue_and_the_dashboard(new_tab: Any, fresh_api: HttpApi, scheme: str) -> None:
    _seed_month(fresh_api)
    tab = sign_in(new_tab, fresh_api, color_scheme=scheme, width=1100, height=900)
    page = tab.page
    expect(cards(page)).to_have_count(3)
    # The tabs count each queue (from /stats); the screenshot shows them.
    expect(page.get_by_role("tab", name="Pending (3)")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name=re.compile(r"^Approved \(\d+\)$"))).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    queue_shot = ARTIFACTS / f"mod-queue-{scheme}.png"
    page.screenshot(path=str(queue_shot), full_page=True)
    page.get_by_role("button", name="Dashboard").click()
    expect(page.locator("#chart svg rect.col")).not_to_have_count(0)
    expect(page.locator("#busiest > li")).to_have_count(3)
    dashboard_shot = ARTIFACTS / f"mod-dashboard-{scheme}.png"
    page.screenshot(path=str(dashboard_shot), full_page=True)
    tab.assert_clean()
    phone = sign_in(new_tab, fresh_api, color_scheme=scheme, width=390, height=844)
    expect(cards(phone.page)).to_have_count(3)
    overflow = phone.page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    phone.assert_clean()
    if os.environ.get("ENGAGEMENT_UPDATE_DOCS_SCREENSHOT"):
        _publish_screenshot(queue_shot)
        _publish_screenshot(dashboard_shot)
