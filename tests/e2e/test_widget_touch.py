"""The widget on a phone: touch targets, wrapping and nesting at 390 px wide, light and dark."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, HttpApi, PublisherSite, expect, mount_widget

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TOUCH_TARGET = 44  # CSS px: WCAG 2.5.5 and the platforms' own guidelines
CONTROLS = "#comments button, #comments select, #comments input[type=submit], #comments [role=button]"
VISIBLE_BOXES = """els => els.map(e => {
  const r = e.getBoundingClientRect();
  return {label: (e.textContent || e.getAttribute('aria-label') || e.tagName).trim().slice(0, 40),
          width: r.width, height: r.height, top: r.top, left: r.left, visible: r.width > 0 && r.height > 0};
}).filter(box => box.visible)"""


def _seed_chain(live_api: HttpApi, article: str) -> list[dict[str, Any]]:
    """Comments 0..3 deep from other readers, a second thread and some reactions; the reader adds depth 4."""
    chain: list[dict[str, Any]] = []
    for depth, name in enumerate(["Maren Holt", "Pieter", "Dr. Okafor", "Wenna Velde"]):
        parent = {"parent_id": chain[-1]["id"]} if chain else {}
        chain.append(live_api.post_comment(
            article, f"A thought at depth {depth}: the float rides the tide and the chain turns the bell wheel.",
            live_api.reader(), author_name=name, **parent))
    live_api.post_comment(article, "The café still keeps the correction card by the till.", live_api.reader(),
                          author_name="Bram")
    for kinds in (["like", "insightful"], ["like"], ["love", "surprised"], ["like"]):
        reader = live_api.reader()
        for kind in kinds:
            live_api.ok("PUT", f"/api/v1/articles/{article}/reactions/{kind}", headers=reader)
    return chain


def _open_phone_thread(new_tab: Any, site: PublisherSite, article: str, chain: list[dict[str, Any]],
                       color_scheme: str = "light") -> Any:
    """The thread at 390 px with the reader's own reply at depth 4 (so it has Edit and Delete)."""
    tab = new_tab(color_scheme=color_scheme, **PHONE)
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    deepest = widget.locator(f'[data-comment-id="{chain[-1]["id"]}"] > .eng-card')
    deepest.get_by_role("button", name="Reply").click()
    form = deepest.locator("form.eng-form")
    form.get_by_label("Your reply").fill("And the bell is a semitone flat at low water.")
    form.get_by_role("button", name="Post reply").click()
    mine = widget.locator(f'[data-comment-id="{chain[-1]["id"]}"] > .eng-replies > .eng-item > .eng-card').last
    expect(mine.get_by_role("button", name="Edit")).to_be_visible()
    return tab, mine


def test_every_control_is_a_44px_touch_target(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    article = "e2e-touch-targets"
    chain = _seed_chain(live_api, article)
    tab, mine = _open_phone_thread(new_tab, site, article, chain)
    page = tab.page
    # Open a report form and a delete confirmation too, so their controls are measured as well.
    top = page.locator(f'[data-comment-id="{chain[0]["id"]}"] > .eng-card')
    top.get_by_role("button", name="Report").click()
    expect(top.get_by_label("Reason")).to_be_visible()
    mine.get_by_role("button", name="Delete").click()
    expect(mine.get_by_role("button", name="Yes, delete")).to_be_visible()
    boxes = page.locator(CONTROLS).evaluate_all(VISIBLE_BOXES)
    labels = {box["label"] for box in boxes}
    assert {"Upvote", "Downvote", "Reply", "Edit", "Report", "Yes, delete", "Keep it", "Send report",
            "Post comment"} <= {label.replace("▲", "").replace("▼", "") for label in labels}, labels
    small = [box for box in boxes if box["width"] < TOUCH_TARGET - 0.5 or box["height"] < TOUCH_TARGET - 0.5]
    assert small == [], small
    tab.assert_clean()


def test_phone_layout_wraps_pills_evenly_keeps_actions_together_and_caps_indent(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-touch-layout"
    chain = _seed_chain(live_api, article)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        tab, mine = _open_phone_thread(new_tab, site, article, chain, scheme)
        page = tab.page
        widget = page.locator("#comments")

        # Reaction pills: equal widths, and no orphan row of one under a row of three or more.
        pills = widget.locator(".eng-react").evaluate_all(VISIBLE_BOXES)
        assert len(pills) >= 4
        assert max(p["width"] for p in pills) - min(p["width"] for p in pills) <= 1, pills
        rows: dict[int, int] = {}
        for pill in pills:
            rows[round(pill["top"])] = rows.get(round(pill["top"]), 0) + 1
        assert not (1 in rows.values() and max(rows.values()) >= 3), rows

        # The reader's own reply at depth 4 offers no Report; on another reader's at depth 3
        # "Report" shares its line with the action before it.
        actions = mine.locator("> .eng-actions button:visible").evaluate_all(VISIBLE_BOXES)
        assert [a["label"] for a in actions] == ["Reply", "Edit", "Delete", "Copy link"], actions
        theirs = widget.locator(f'[data-comment-id="{chain[3]["id"]}"] > .eng-card > .eng-actions button:visible')
        actions = theirs.evaluate_all(VISIBLE_BOXES)
        assert [a["label"] for a in actions][-3:] == ["Reply", "Copy link", "Report"], actions
        assert abs(actions[-1]["top"] - actions[-2]["top"]) <= 4, actions

        # Indentation stops growing, so a deep reply keeps most of the top comment's width.
        def body_width(comment_id: int) -> float:
            return widget.locator(f'[data-comment-id="{comment_id}"] > .eng-card .eng-body').evaluate(
                "el => el.getBoundingClientRect().width")
        top_width = body_width(chain[0]["id"])
        deep_width = mine.locator(".eng-body").evaluate("el => el.getBoundingClientRect().width")
        assert deep_width >= 0.75 * top_width, (deep_width, top_width)
        assert deep_width == pytest.approx(body_width(chain[3]["id"]), abs=1), "depth 4 indents past depth 3"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        widget.screenshot(path=str(ARTIFACTS / f"widget-phone-{scheme}.png"))
        tab.assert_clean()


def test_widget_fits_the_host_page(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    """Transparent by default with the page's text colour; colour emoji; quiet actions; a marked pinned comment."""
    article = "e2e-touch-host"
    chain = _seed_chain(live_api, article)
    live_api.ok("PATCH", f"/api/v1/mod/comments/{chain[0]['id']}", {"pinned": True}, live_api.moderator())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        tab = new_tab(color_scheme=scheme, **PHONE)
        page = tab.page
        page.goto(site.url("article.html", article))
        widget = page.locator("#comments")
        root = widget.locator(".eng")
        expect(widget.locator(".eng-react").first).to_be_visible()
        # The demo page sets the --eng-* properties; "initial" unsets them, leaving the widget's defaults.
        for name in ("--eng-bg", "--eng-fg", "--eng-surface", "--eng-border", "--eng-muted"):
            widget.evaluate("(el, name) => el.style.setProperty(name, 'initial')", name)
        assert root.evaluate("el => getComputedStyle(el).backgroundColor") == "rgba(0, 0, 0, 0)"
        page_ink = page.evaluate("() => getComputedStyle(document.body).color")
        assert root.evaluate("el => getComputedStyle(el).color") == page_ink
        assert "Noto Color Emoji" in widget.locator(".eng-emoji").first.evaluate("el => getComputedStyle(el).fontFamily")

        pinned = widget.locator(f'[data-comment-id="{chain[0]["id"]}"] > .eng-card')
        expect(pinned).to_have_class(re.compile(r"\beng-pinned\b"))
        assert pinned.evaluate("el => getComputedStyle(el).borderLeftWidth") == "3px"
        other = widget.locator(f'[data-comment-id="{chain[1]["id"]}"] > .eng-card')
        assert other.evaluate("el => getComputedStyle(el).borderLeftWidth") == "0px"

        report = other.get_by_role("button", name="Report")
        muted = other.locator(".eng-time").evaluate("el => getComputedStyle(el).color")
        assert report.evaluate("el => getComputedStyle(el).color") == muted
        report.hover()
        assert report.evaluate("el => getComputedStyle(el).color") != muted
        page.mouse.move(0, 0)
        widget.screenshot(path=str(ARTIFACTS / f"widget-phone-defaults-{scheme}.png"))

        widget.evaluate("el => el.style.setProperty('--eng-bg', 'rgb(1, 2, 3)')")
        assert root.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(1, 2, 3)"
        tab.assert_clean()


def test_heading_is_optional_or_the_sites_own_and_the_reactions_have_a_prompt(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-touch-heading"
    live_api.post_comment(article, "One thought.", live_api.reader())
    tab = new_tab(**PHONE)
    page = tab.page
    page.goto(site.url("article.html", article))
    default = page.locator("#comments")
    expect(default.locator(".eng-heading")).to_have_text("1 comment")
    expect(default.get_by_role("group", name="What did you think?")).to_be_visible()
    expect(default.locator(".eng-prompt")).to_be_visible()

    hidden = mount_widget(page, article, {"data-engagement-heading": "none"})
    heading = hidden.locator(".eng-heading")
    expect(heading).to_have_text("1 comment")  # still names the section for screen readers
    assert heading.evaluate("el => el.getBoundingClientRect().width * el.getBoundingClientRect().height") <= 1
    assert hidden.locator("section.eng").evaluate(
        "el => document.getElementById(el.getAttribute('aria-labelledby')).textContent") == "1 comment"

    own = mount_widget(page, article, {"data-engagement-heading": "Join the discussion"})
    expect(own.locator(".eng-heading")).to_have_text("Join the discussion")
    expect(own.locator(".eng-count")).to_have_text("1 comment")
    tab.assert_clean()


def test_the_edit_box_opens_at_the_top_of_the_text_and_hides_the_other_actions(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    article = "e2e-touch-edit"
    tab = new_tab(**PHONE)
    page = tab.page
    page.goto(site.url("article.html", article))
    widget = page.locator("#comments")
    compose = widget.locator(".eng-compose form")
    long_text = "\n\n".join(f"Paragraph {n}: the float rides the tide and the chain turns the bell wheel." for n in range(12))
    compose.get_by_label("Your comment").fill(long_text)
    compose.get_by_role("button", name="Post comment").click()
    card = widget.locator(".eng-thread > .eng-item > .eng-card")
    actions = card.locator(".eng-actions")
    card.get_by_role("button", name="Edit").click()
    box = card.get_by_label("Edit your comment")
    expect(box).to_be_focused()
    assert box.evaluate("el => [el.selectionStart, el.selectionEnd, el.scrollTop]") == [0, 0, 0]
    assert box.evaluate("el => el.scrollHeight > el.clientHeight")  # long enough that the position matters
    expect(actions).to_be_hidden()
    expect(card.locator(".eng-body")).to_be_hidden()
    # The box is in view, with its first line visible.
    assert box.evaluate("el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")

    card.locator(".eng-edit").get_by_role("button", name="Cancel").click()
    expect(actions).to_be_visible()
    expect(card.get_by_role("button", name="Edit")).to_be_visible()
    card.get_by_role("button", name="Edit").click()
    box.fill("Shorter now.")
    card.get_by_role("button", name="Save").click()
    expect(card.locator(".eng-body")).to_have_text("Shorter now.")
    expect(card.locator(".eng-actions")).to_be_visible()
    expect(card.locator(".eng-msg")).to_have_text("Your comment is updated.")
    tab.assert_clean()
