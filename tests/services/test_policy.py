"""The policy's text checks on the service directly: they judge the rendered body, once."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pytest

from engagement.config import Settings
from engagement.errors import ValidationFailed
from engagement.models import Article, CommentStatus
from engagement.sanitize import render_body
from engagement.services import blocklist, policy

NOW = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)
TEXT_CHECKS = (policy.refuse_empty_bodies, policy.hold_link_heavy, policy.hold_non_text)


@pytest.fixture
def settings(app) -> Settings:
    return app.extensions["engagement.settings"]


def submission(body: str, **fields) -> policy.Submission:
    # These checks read neither the session nor the reader.
    return policy.Submission(article=Article(key="a"), body_source=body, reader=None, now=NOW, **fields)


def test_links_are_counted_in_the_rendered_body_not_the_source(settings):
    hostile = "http:/" * 1666 + " a.com b.com c.com d.com"
    assert policy.hold_link_heavy(None, submission(hostile), settings).reasons == ("too_many_links",)
    given = submission(hostile, rendered=render_body("Nothing to see."))
    assert policy.hold_link_heavy(None, given, settings) is None


def test_the_body_is_rendered_once_for_every_check(monkeypatch, settings):
    calls = []

    def counting(source):
        calls.append(source)
        return render_body(source)

    monkeypatch.setattr(policy, "render_body", counting)
    body = "Sources: p.com, q.com, r.com and s.com, all of them worth a read."
    verdict = policy.evaluate(None, submission(body), settings, checks=TEXT_CHECKS)
    assert (verdict.status, verdict.reasons, calls) == (CommentStatus.PENDING, ("too_many_links",), [body])
    given = submission("x", rendered=render_body(body))
    assert policy.evaluate(None, given, settings, checks=TEXT_CHECKS).reasons == ("too_many_links",)
    assert len(calls) == 1  # the caller's rendering was used


@pytest.mark.parametrize("body", ["---", "[](http://x.example)", "&ZeroWidthSpace;", "\u3164"])
def test_a_body_that_renders_to_nothing_visible_is_refused(settings, body):
    with pytest.raises(ValidationFailed) as refused:
        policy.refuse_empty_bodies(None, submission(body), settings)
    assert refused.value.fields == {"body": ["The comment is empty."]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("```\n<b>x</b>\n```", False),
        ("`if (a && b) { f(); }`", False),
        ("```\n" + "=" * 40 + "\n```", False),
        ("=" * 40, True),
        ("https://only-a-link.example/path", True),
        ("[a long descriptive link text](https://example.org/path)", False),
        ("$$$ ??? $$$ ??? $$$ ??? $$$ ??? $$$ ??? $$$", True),
        ("a" * 5000 + "!" * 5000, True),
        ("Agreed: 100%.", False),
    ],
)
def test_mostly_non_text_judges_what_readers_see_without_code(body, expected):
    assert policy.is_mostly_non_text(render_body(body)) is expected


def test_ascii_text_is_counted_as_the_unicode_categories_say():
    """ASCII bodies take a shortcut; it counts exactly the characters the general rule counts."""
    every_ascii = "".join(map(chr, range(128)))
    by_category = sum(1 for ch in every_ascii if unicodedata.category(ch).startswith(("L", "N", "M", "So")))
    assert policy._count_text(every_ascii) == by_category == 62
    assert policy._count_text(every_ascii + "é✓̀") == by_category + 3  # letter, "So" symbol, combining mark


def test_the_blocklist_matcher_is_built_once_per_list():
    blocklist._trie.cache_clear()
    words = tuple(f"word{n}" for n in range(1000))
    for _ in range(3):
        assert blocklist.find_blocked_word(words, "so word999 it is") == "word999"
    assert blocklist._trie.cache_info().misses == 1


@pytest.mark.parametrize(
    ("words", "text", "expected"),
    [
        (("buy pills",), "BUY\n pills now", "buy pills"),
        (("buy", "buy pills"), "buy pills", "buy pills"),  # the longest entry at a position wins
        (("pills", "buy pills"), "pills? buy pills", "pills"),  # the earliest position wins
        (("a b c",), "a b a b c", "a b c"),
        (("idiot",), "idiots and midiot", None),
        (("\u0456di\u043et",), "idiot", "idiot"),
        (("   ",), "anything", None),
    ],
)
def test_find_blocked_word(words, text, expected):
    assert blocklist.find_blocked_word(words, text) == expected
