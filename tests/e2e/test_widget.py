"""The comment widget in a real browser: a publisher's page on one origin, the API on another."""
from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, HttpApi, PublisherSite, expect

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEMO_TITLE = "The island that keeps time by the tide"
PHONE_WIDTH = 390
SCREENSHOT_WIDTHS = (1280, PHONE_WIDTH)
DOCS_SCREENSHOT_MAX_BYTES = 250_000


def _seed_demo(live_api: HttpApi) -> None:
    """A lived-in demo article: a few readers, a thread four levels deep, votes, reactions and
    other articles to rank."""
    moderator = live_api.moderator()
    for key, title in [("demo-article", DEMO_TITLE),
                       ("ferry-timetable", "Why the winter ferry timetable keeps slipping"),
                       ("harbour-cafe", "Inside the harbour café where the council meets")]:
        # Title and url make the article known to the site: only known articles trend.
        live_api.ok("PUT", f"/api/v1/mod/articles/{key}",
                    {"title": title, "url": f"{live_api.origin}/demo?article={key}"}, moderator)
    readers = [live_api.reader() for _ in range(5)]
    first = live_api.post_comment(
        "demo-article", "I grew up two islands over and we always set our watches by the **Harrowmere** bell.",
        readers[0], author_name="Maren Holt")
    reply = live_api.post_comment("demo-article", "Same here. The correction card in the café is a local legend.",
                                  readers[1], author_name="Pieter", parent_id=first["id"])
    deeper = live_api.post_comment(
        "demo-article", "My gran kept a copy on the fridge. Week 38 just says *add four minutes, or ask the ferryman*.",
        readers[4], author_name="Jory Trewin", parent_id=reply["id"])
    live_api.post_comment(
        "demo-article", "Week 38 is the equinox springs, so the float should run fast then. Ask the ferryman indeed.",
        readers[0], author_name="Maren Holt", parent_id=deeper["id"])
    live_api.post_comment(
        "demo-article",
        "Three millimetres a year sounds small until you multiply it by the age of the harbour wall.",
        readers[2], author_name="Dr. Okafor", author_url="https://example.org/")
    live_api.ok("POST", f"/api/v1/comments/{first['id']}/vote", {"value": 1}, readers[2])
    live_api.ok("POST", f"/api/v1/comments/{first['id']}/vote", {"value": 1}, readers[3])
    for reader, kinds in zip(readers, [["like"], ["like", "insightful"], ["love"], ["insightful"]]):
        for kind in kinds:
            live_api.ok("PUT", f"/api/v1/articles/demo-article/reactions/{kind}", headers=reader)
    for key, viewers in [("ferry-timetable", 3), ("harbour-cafe", 2), ("demo-article", 2)]:
        for reader in readers[:viewers]:
            live_api.ok("POST", f"/api/v1/articles/{key}/views", headers=reader)


# The masthead, byline and stats line of the demo page, and the parts that must never break.
PHONE_BLOCKS = (".brand", ".masthead nav", ".demo-tag", ".byline", ".stats")
UNBROKEN = (".demo-tag", ".byline .author", ".byline .role", ".byline time", "#read-time", "#view-count")


def _assert_phone_layout(page: Any) -> None:
    """Nothing wider than the phone, masthead and byline blocks side by side without
    overlapping, and no name, role, date or count broken across lines."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    boxes = {selector: page.locator(selector).bounding_box() for selector in PHONE_BLOCKS}
    for selector, box in boxes.items():
        assert box is not None and box["width"] > 0, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, (selector, box)
    for (one, a), (other, b) in itertools.combinations(boxes.items(), 2):
        apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                 or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
        assert apart, (one, a, other, b)
    lines = page.evaluate(
        """selectors => selectors.map(selector => {
             const element = document.querySelector(selector);
             if (!element) return 0;
             const range = document.createRange();
             range.selectNodeContents(element);
             return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
           })""",
        list(UNBROKEN),
    )
    assert dict(zip(UNBROKEN, lines)) == dict.fromkeys(UNBROKEN, 1)


def _publish_screenshot(shot: Path) -> None:
    """Copy a screenshot to docs/, squeezed with pngquant (the docs keep each file small)."""
    pngquant = shutil.which("pngquant")
    if pngquant is None:
        pytest.fail("updating the docs' screenshots needs pngquant (apt-get install pngquant)")
    target = DOCS / shot.name
    squeezed = subprocess.run([pngquant, "--force", "--skip-if-larger", "--strip", "--quality=60-90",
                               "--output", str(target), "--", str(shot)], check=False, timeout=120)
    if squeezed.returncode != 0:  # it could not make the file smaller at that quality
        shutil.copyfile(shot, target)
    assert target.stat().st_size <= DOCS_SCREENSHOT_MAX_BYTES, (target, target.stat().st_size)


def test_demo_page_in_light_and_dark(new_tab: Any, live_api: HttpApi) -> None:
    """The service's own /demo (same origin, as `make run` serves it) at 1280 and 390 px,
    light and dark, saved as full-page screenshots; on the phone, the layout holds.

    First in the module, so the "Most read" box shows the demo's articles rather than the tests'.
    """
    _seed_demo(live_api)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, scheme in itertools.product(SCREENSHOT_WIDTHS, ("light", "dark")):
        tab = new_tab(color_scheme=scheme, width=width, height=900)
        page = tab.page
        page.goto(f"{live_api.origin}/demo")
        expect(page.locator("#read-time")).to_have_text(re.compile(r"^\d+ min read$"))
        expect(page.locator("#view-count")).to_have_text(re.compile(r"^\d+ views$"))
        expect(page.locator("#comments .eng-item")).to_have_count(5)
        deepest = page.locator("#comments .eng-item .eng-item .eng-item .eng-item")
        expect(deepest).to_contain_text("equinox springs")
        expect(page.locator("#most-read li a").first).to_be_visible()
        expect(page.locator("#most-read")).to_contain_text(DEMO_TITLE)
        expect(page.locator("#comments .eng-react").first).to_be_visible()
        background = page.eval_on_selector("#comments .eng", "el => getComputedStyle(el).backgroundColor")
        assert background == ("rgb(251, 250, 247)" if scheme == "light" else "rgb(18, 19, 22)")
        if width == PHONE_WIDTH:
            _assert_phone_layout(page)
        shot = ARTIFACTS / f"demo-{width}-{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        tab.assert_clean()
        # The committed screenshots change only on request, so test runs leave the tree clean.
        if os.environ.get("ENGAGEMENT_UPDATE_DOCS_SCREENSHOT"):
            _publish_screenshot(shot)


def test_most_read_on_a_fresh_database_shows_titles_with_links(new_tab: Any, fresh_api: HttpApi) -> None:
    """A first visit to /demo on an empty database: the widget's first beacon names the demo
    article, and "Most read" shows its headline as a link at once, never its key; an article
    known by its url alone is left out rather than shown by its key."""
    tab = new_tab(width=PHONE_WIDTH)
    page = tab.page
    page.goto(f"{fresh_api.origin}/demo")
    expect(page.locator("#view-count")).to_have_text("1 view")
    most_read = page.locator("#most-read li")
    expect(most_read).to_have_count(1)
    link = most_read.locator("a")
    expect(link).to_have_text(DEMO_TITLE)
    expect(link).to_have_attribute("href", f"{fresh_api.origin}/demo")
    _assert_phone_layout(page)

    untitled = "harbour-notes"
    fresh_api.ok("PUT", f"/api/v1/mod/articles/{untitled}", {"url": f"{fresh_api.origin}/demo?article={untitled}"},
                 fresh_api.moderator())
    for _ in range(3):
        fresh_api.ok("POST", f"/api/v1/articles/{untitled}/views", headers=fresh_api.reader())
    assert untitled in [a["key"] for a in fresh_api.ok("GET", "/api/v1/trending?window=7d")["articles"]]
    page.reload()
    expect(page.locator("#view-count")).to_have_text(re.compile(r"^\d+ views?$"))
    expect(most_read.locator("a")).to_have_text([DEMO_TITLE])
    expect(page.locator("#most-read")).not_to_contain_text(untitled)
    tab.assert_clean()


def test_reader_posts_replies_reacts_votes_edits_and_flags(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-thread"
    other = live_api.reader()
    theirs = live_api.post_comment(article, "Clever float, but what happens when the shaft ices up?", other,
                                   author_name="Bram")
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    heading = widget.locator(".eng-heading")
    expect(heading).to_have_text("1 comment")
    their_item = widget.locator(f'[data-comment-id="{theirs["id"]}"]')
    their_card = their_item.locator("> .eng-card")
    expect(their_card).to_contain_text("shaft ices up?")
    expect(their_card.locator(".eng-author")).to_have_text("Bram")
    expect(their_card.locator("time")).to_have_attribute("datetime", theirs["created_at"])

    # Post with the keyboard: the new comment appears, is announced and takes the focus.
    compose = widget.locator(".eng-compose form")
    compose.get_by_label("Your comment").fill("Tidal clocks deserve a **museum** of their own.")
    compose.get_by_label("Name (optional)").fill("Ada")
    compose.get_by_label("Website (optional)").fill("https://ada.example/")
    trap = compose.locator('input[name="website"]')
    expect(trap).to_have_attribute("tabindex", "-1")
    expect(trap).to_have_attribute("autocomplete", "off")
    expect(compose.get_by_role("textbox", name="Leave this field empty")).to_have_count(0)
    trap_box = trap.bounding_box()
    assert trap_box is None or trap_box["x"] + trap_box["width"] <= 0
    compose.get_by_role("button", name="Post comment").focus()
    page.keyboard.press("Enter")
    mine = widget.locator(".eng-thread > .eng-item", has_text="deserve a")
    expect(mine.locator("> .eng-card strong")).to_have_text("museum")
    expect(mine.locator("> .eng-card")).to_be_focused()
    expect(mine.locator("> .eng-card a.eng-author")).to_have_attribute("href", "https://ada.example/")
    expect(heading).to_have_text("2 comments")
    expect(compose.locator(".eng-msg")).to_have_text("Your comment is posted.")
    mine_id = int(mine.get_attribute("data-comment-id"))
    assert mine_id in [c["id"] for c in live_api.thread(article)["comments"]]

    # Reply to the other reader.
    their_card.get_by_role("button", name="Reply").click()
    reply_form = their_card.locator("form.eng-form")
    reply_form.get_by_label("Your reply").fill("It rarely freezes there; the well is sheltered.")
    reply_form.get_by_role("button", name="Post reply").click()
    reply = their_item.locator("> .eng-replies > .eng-item")
    expect(reply).to_contain_text("the well is sheltered")
    expect(heading).to_have_text("3 comments")
    stored = next(c for c in live_api.thread(article)["comments"] if c["id"] == theirs["id"])
    assert [r["parent_id"] for r in stored["replies"]] == [theirs["id"]]

    # React to the article: the count changes and the button shows the reader's choice.
    like = widget.locator('.eng-react[data-kind="like"]')
    expect(like.locator(".eng-n")).to_have_text("0")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like.locator(".eng-n")).to_have_text("1")
    assert live_api.ok("GET", f"/api/v1/articles/{article}/reactions")["counts"]["like"] == 1

    # Vote the other reader's comment up.
    upvote = their_card.get_by_role("button", name="Upvote")
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "true")
    expect(their_card.locator(".eng-score")).to_have_text("1")
    stored = next(c for c in live_api.thread(article)["comments"] if c["id"] == theirs["id"])
    assert (stored["score"], stored["upvotes"]) == (1, 1)

    # Edit within the window: the Markdown source comes back into the editor.
    my_card = mine.locator("> .eng-card")
    my_card.get_by_role("button", name="Edit").click()
    editor = my_card.get_by_label("Edit your comment")
    expect(editor).to_have_value("Tidal clocks deserve a **museum** of their own.")
    editor.fill("Tidal clocks deserve a *whole* museum of their own.")
    my_card.get_by_role("button", name="Save").click()
    expect(my_card.locator(".eng-body em")).to_have_text("whole")
    expect(my_card.locator(".eng-edited")).to_be_visible()
    edited = next(c for c in live_api.thread(article)["comments"] if c["id"] == mine_id)
    assert edited["edited_at"] and "<em>whole</em>" in edited["body_html"]

    # Flag the other comment with a reason.
    their_card.get_by_role("button", name="Report").click()
    their_card.get_by_label("Reason").select_option("spam")
    their_card.get_by_role("button", name="Send report").click()
    expect(their_card.get_by_role("button", name="Reported")).to_be_disabled()
    expect(their_card).to_contain_text("A moderator will take a look.")
    flagged = live_api.ok("GET", f"/api/v1/mod/comments?status=flagged&article={article}",
                          headers=live_api.moderator())
    assert [c["id"] for c in flagged["comments"]] == [theirs["id"]]

    # A field the API rejects is marked next to that field.
    compose.get_by_label("Your comment").fill("One more thought about the float.")
    email = compose.get_by_label("Email (optional)")
    email.fill("not-an-email")
    compose.get_by_role("button", name="Post comment").click()
    expect(compose.locator('[data-field="email"] .eng-field-error')).to_be_visible()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_be_focused()
    expect(heading).to_have_text("3 comments")

    # Delete one's own reply.
    reply_card = reply.locator("> .eng-card")
    reply_card.get_by_role("button", name="Delete").click()
    reply_card.get_by_role("button", name="Yes, delete").click()
    expect(reply).to_have_count(0)
    expect(heading).to_have_text("2 comments")
    tab.assert_clean()


def test_sort_switch_and_load_more_walk_the_thread(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-paging"
    ids = [live_api.post_comment(article, f"Comment number {n}", live_api.reader())["id"] for n in range(1, 25)]
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    items = widget.locator(".eng-thread > .eng-item")
    expect(items).to_have_count(20)
    widget.get_by_role("button", name="Load more comments").click()
    expect(items).to_have_count(24)
    expect(widget.get_by_role("button", name="Load more comments")).to_be_hidden()
    assert [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.commentId)")] == ids
    widget.get_by_label("Sort").select_option("newest")
    expect(items.first).to_have_attribute("data-comment-id", str(ids[-1]))
    expect(items).to_have_count(20)
    tab.assert_clean()


def test_view_is_counted_once_per_reader(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-views"
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    expect(page.locator("#comments")).to_have_attribute("data-engagement-views", "1")
    expect(page.locator("#view-count")).to_have_text("1 view")
    page.reload()
    expect(page.locator("#comments")).to_have_attribute("data-engagement-views", "1")
    expect(page.locator("#view-count")).to_have_text("1 view")
    assert live_api.ok("GET", f"/api/v1/articles/{article}")["views"] == 1

    another = new_tab()
    another.page.goto(site.url("article.html", article))
    expect(another.page.locator("#view-count")).to_have_text("2 views")
    tab.assert_clean()
    another.assert_clean()


HOSTILE_BODIES = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "[click me](javascript:window.__pwned=1;alert(1))",
]
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1;alert(2)">'


def test_hostile_comments_never_run_script(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-hostile"
    live_api.post_comment(article, "<script>window.__pwned=1;alert(3)</script> plain words", live_api.reader(),
                          author_name=HOSTILE_NAME, author_url="https://example.org/")
    tab = new_tab()
    page = tab.page
    # The page without a CSP: only the widget's escaping stands between these strings and the page.
    page.goto(site.url("plain.html", article))
    widget = page.locator("#comments")
    compose = widget.locator(".eng-compose form")
    for count, body in enumerate(HOSTILE_BODIES, start=2):
        compose.get_by_label("Your comment").fill(body)
        compose.get_by_role("button", name="Post comment").click()
        expect(widget.locator(".eng-heading")).to_have_text(f"{count} comments")
    page.reload()
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(3)
    expect(widget.locator(".eng-author").first).to_have_text(HOSTILE_NAME)
    expect(widget).to_contain_text("plain words")
    expect(widget).to_contain_text('<img src=x onerror="window.__pwned=1;alert(1)">')
    expect(widget).to_contain_text("click me")
    assert page.locator("#comments img, #comments script").count() == 0
    hrefs = page.eval_on_selector_all("#comments a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert not [href for href in hrefs if not re.match(r"^(https?:|mailto:|/|#)", href)], hrefs
    for link in page.locator("#comments .eng-body a").all():
        link.click()
    page.wait_for_timeout(200)
    tab.assert_clean()


def test_posting_to_a_closed_thread_shows_a_clear_message(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-closed"
    live_api.post_comment(article, "Posted while the thread was open.", live_api.reader())
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    compose = widget.locator(".eng-compose form")
    expect(compose).to_be_visible()
    expect(widget.get_by_role("button", name="Reply")).to_have_count(1)
    live_api.ok("PUT", f"/api/v1/mod/articles/{article}", {"comments_closed": True}, live_api.moderator())

    compose.get_by_label("Your comment").fill("Is anyone still reading this?")
    compose.get_by_role("button", name="Post comment").click()
    expect(widget.locator(".eng-closed")).to_have_text("Comments are closed.")
    expect(widget.locator(".eng-status")).to_have_text("")
    expect(compose).to_be_hidden()
    expect(widget.get_by_role("button", name="Reply")).to_have_count(0)
    assert [c["body_html"] for c in live_api.thread(article)["comments"]] == ["<p>Posted while the thread was open.</p>"]

    page.reload()
    expect(widget.locator(".eng-closed")).to_have_text("Comments are closed.")
    expect(widget.locator(".eng-compose")).to_be_hidden()
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(1)
    expect(widget.get_by_role("button", name="Reply")).to_have_count(0)
    tab.assert_clean()


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def test_failures_get_clear_messages_and_a_retry(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-errors"
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    compose = widget.locator(".eng-compose form")
    message = compose.locator(".eng-msg")
    post = compose.get_by_role("button", name="Post comment")
    endpoint = f"{live_api.origin}/api/v1/articles/{article}/comments"
    cors = {"Access-Control-Allow-Origin": site.origin, "Access-Control-Expose-Headers": "Retry-After"}

    def answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        def handle(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
            elif status:
                route.fulfill(status=status, json=body, headers={**cors, **(headers or {})})
            else:
                route.abort("internetdisconnected")
        return handle

    compose.get_by_label("Your comment").fill("Does the float ever stick?")
    page.route(endpoint, answer(403, _error_body("banned", "You are not allowed to take part here.")))
    post.click()
    expect(message).to_have_text("You can't take part in this discussion.")
    page.unroute(endpoint)

    page.route(endpoint, answer(0, {}))
    post.click()
    expect(message).to_contain_text("The comment service is not answering right now. Try again in a moment.")
    page.unroute(endpoint)
    message.get_by_role("button", name="Retry").click()
    expect(widget.locator(".eng-thread > .eng-item")).to_have_count(1)
    expect(widget.locator(".eng-heading")).to_have_text("1 comment")

    page.route(endpoint, answer(429, _error_body("rate_limited", "Too many requests; slow down."), {"Retry-After": "7"}))
    compose.get_by_label("Your comment").fill("And in a storm?")
    post.click()
    expect(message).to_have_text("Slow down: try again in 7 seconds.")
    expect(post).to_be_disabled()
    tab.assert_clean()


def test_a_rejected_reader_token_is_replaced_once(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-token"
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    expect(widget).to_have_attribute("data-engagement-views", "1")
    storage_key = f"engagement:{live_api.origin}:reader"
    page.evaluate("key => localStorage.setItem(key, JSON.stringify('forged.token'))", storage_key)
    page.reload()
    expect(widget).to_have_attribute("data-engagement-views", "2")
    widget.locator('.eng-react[data-kind="love"]').click()
    expect(widget.locator('.eng-react[data-kind="love"] .eng-n')).to_have_text("1")
    token = page.evaluate("key => JSON.parse(localStorage.getItem(key))", storage_key)
    assert token != "forged.token"
    assert live_api.ok("GET", f"/api/v1/articles/{article}/reactions", headers={"X-Reader-Token": token})["mine"] == ["love"]
    expect(widget.locator(".eng-status")).to_have_text("")
    tab.assert_clean()


def test_edit_controls_leave_when_the_edit_window_ends(new_tab: Any, site: PublisherSite) -> None:
    tab = new_tab()
    page = tab.page
    page.clock.install()
    page.goto(site.url("article.html", "e2e-window"))
    compose = page.locator("#comments .eng-compose form")
    compose.get_by_label("Your comment").fill("Posted just before the window closes.")
    compose.get_by_role("button", name="Post comment").click()
    card = page.locator("#comments .eng-thread > .eng-item > .eng-card")
    expect(card.get_by_role("button", name="Edit")).to_be_visible()
    expect(card.locator("time")).to_have_text("just now")
    page.clock.fast_forward("16:00")
    expect(card.get_by_role("button", name="Edit")).to_have_count(0)
    expect(card.get_by_role("button", name="Delete")).to_have_count(0)
    expect(card.locator("time")).to_have_text("16 minutes ago")
    tab.assert_clean()
