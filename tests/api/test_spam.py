"""Spam signals: links, non-text bodies, duplicates, the honeypot, and external checks."""
from __future__ import annotations

import pytest

from engagement.config import ConfigurationError
from tests.factories import DEFAULT_ARTICLE, assert_error, list_comments, mint_reader, post_comment, reader_headers
from tests.support import spam_double


def _mod_view(app, comment_id):
    """The stored status and reason, as moderators see them."""
    from engagement.extensions import db
    from engagement.models import Comment

    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        return comment.status.value, comment.moderation_reason


@pytest.mark.parametrize(
    "body",
    [
        "Deals: https://a.example https://b.example https://c.example https://d.example",
        "[one](https://a.example) [two](https://b.example) [three](http://c.example) www.d.example",
    ],
)
def test_more_than_three_links_are_held(app, client, body):
    created = post_comment(client, body=body)
    assert created["status"] == "pending"
    status, reason = _mod_view(app, created["id"])
    assert status == "pending" and "too_many_links" in reason.split(", ")
    assert list_comments(client)["comments"] == []


def test_three_links_are_fine(client):
    body = "See https://a.example, https://b.example and https://c.example for the sources."
    assert post_comment(client, body=body)["status"] == "approved"


def test_link_limit_is_configurable(app_factory):
    client = app_factory(SPAM_MAX_LINKS=0).test_client()
    assert post_comment(client, body="Source: https://a.example")["status"] == "pending"


@pytest.mark.parametrize(
    "body",
    [
        "https://only-a-link.example/with/a/path?and=query",
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "$$$ ??? $$$ ??? $$$ ??? $$$ ??? $$$ ??? $$$",
    ],
)
def test_bodies_made_mostly_of_non_text_are_held(app, client, body):
    created = post_comment(client, body=body)
    assert created["status"] == "pending"
    assert _mod_view(app, created["id"])[1] == "mostly_non_text"


@pytest.mark.parametrize(
    "body",
    ["ok", "Yes!", "Great read — thanks.", "¡Qué buen artículo! 👏👏", "这篇文章写得很好", "Agreed: 100%."],
)
def test_short_and_non_latin_comments_are_not_treated_as_non_text(client, body):
    assert post_comment(client, body=body)["status"] == "approved"


@pytest.mark.parametrize(
    "body",
    [
        "```\n<b>x</b>\n```",
        "`if (a && b) { f(); }`",
        "```\nif (a && b) { f(); }\nreturn x->y[0] || *p;\n```",
        "if (a && b) { f(); }",
    ],
)
def test_code_is_text_not_a_non_text_signal(client, body):
    """A comment that is (or quotes) code is ordinary text: it is published, not held."""
    assert post_comment(client, body=body)["status"] == "approved"


def test_duplicate_body_is_409_and_the_first_stays(client):
    token = mint_reader(client)
    post_comment(client, body="Me too", headers=reader_headers(token))
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Me too"}, headers=reader_headers(token)
    )
    assert_error(response, 409, "conflict")
    assert len(list_comments(client)["comments"]) == 1


def test_honeypot_hit_is_stored_as_spam_with_its_reason(app, client):
    created = post_comment(client, body="Nice article", website="I am a bot")
    assert created["status"] == "pending"  # looks accepted to the bot
    assert _mod_view(app, created["id"]) == ("spam", "honeypot")
    assert list_comments(client)["comments"] == []


def test_external_spam_check_plugs_in_by_configuration(app_factory):
    spam_double.calls.clear()
    app = app_factory(SPAM_CHECKS=["tests.support.spam_double:classify"])
    client = app.test_client()
    clean = post_comment(client, body="A measured reply.")
    spam = post_comment(client, body="Buy MIRACLE PILLS now")
    assert clean["status"] == "approved"
    assert spam["status"] == "pending"
    assert _mod_view(app, spam["id"]) == ("spam", "external:spam-double")
    assert spam_double.calls == ["A measured reply.", "Buy MIRACLE PILLS now"]


def test_unknown_spam_check_refuses_to_start(app_factory):
    with pytest.raises(ConfigurationError):
        app_factory(SPAM_CHECKS=["tests.support.spam_double:nothing_here"])
