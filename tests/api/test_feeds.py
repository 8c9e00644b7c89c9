"""Atom feeds of published comments, read with feedparser as feed readers would."""
from __future__ import annotations

import feedparser
import pytest

from tests.factories import post_comment

ARTICLE_FEED = "/api/v1/articles/an-article/comments.atom"
SITE_FEED = "/api/v1/comments.atom"


def read_feed(client, path, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    return parsed, response


def test_an_article_feed_holds_its_published_comments_newest_first(client, mod):
    client.put("/api/v1/mod/articles/an-article", json={"title": "Prisoners", "url": "https://news.example/p"},
               headers=mod)
    first = post_comment(client, body="First *point*.", author_name="Ana", author_url="https://ana.example",
                         author_email="ana@example.org")
    reply = post_comment(client, body="A reply.", parent_id=first["id"])
    post_comment(client, "other-article", body="Elsewhere.")
    parsed, _ = read_feed(client, ARTICLE_FEED)

    assert parsed.feed.title == "Comments on Prisoners"
    assert [entry.link for entry in parsed.entries] == [
        f"https://news.example/p#comment-{reply['id']}", f"https://news.example/p#comment-{first['id']}",
    ]
    newest, oldest = parsed.entries
    assert newest.title == "Anonymous replied on Prisoners"
    assert oldest.title == "Ana on Prisoners"
    assert oldest.author_detail.name == "Ana" and oldest.author_detail.href == "https://ana.example"
    assert oldest.content[0].value == "<p>First <em>point</em>.</p>"
    assert oldest.content[0].type == "text/html"


def test_feeds_never_show_emails_or_unpublished_comments(client, mod, admin):
    shown = post_comment(client, body="Shown.", author_email="shown@example.org")
    held = post_comment(client, body="Held by a moderator.")
    client.patch(f"/api/v1/mod/comments/{held['id']}", json={"status": "pending"}, headers=mod)
    spam = post_comment(client, body="Spam.", website="https://bot.example")
    withdrawn = post_comment(client, body="Withdrawn.")
    client.delete(f"/api/v1/comments/{withdrawn['id']}", headers={"X-Edit-Token": withdrawn["edit_token"]})
    purged = post_comment(client, body="Purged.")
    client.delete(f"/api/v1/mod/comments/{purged['id']}", headers=admin)

    for path in (ARTICLE_FEED, SITE_FEED):
        parsed, response = read_feed(client, path)
        assert [entry.content[0].value for entry in parsed.entries] == ["<p>Shown.</p>"], path
        raw = response.get_data(as_text=True)
        assert "shown@example.org" not in raw and "Spam" not in raw and "Held" not in raw
    assert spam["status"] == "pending" and shown["status"] == "approved"


def test_the_site_feed_spans_articles(client):
    post_comment(client, "one", body="On one.")
    post_comment(client, "two", body="On two.")
    parsed, _ = read_feed(client, SITE_FEED)
    assert parsed.feed.title == "Latest comments"
    assert [entry.title for entry in parsed.entries] == ["Anonymous on two", "Anonymous on one"]
    assert len({entry.id for entry in parsed.entries}) == 2


@pytest.mark.parametrize("path", [ARTICLE_FEED, SITE_FEED])
def test_feeds_answer_304_until_a_comment_changes_them(client, path):
    post_comment(client, body="First.")
    _, response = read_feed(client, path)
    etag = response.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""

    post_comment(client, body="Second.")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_hostile_text_is_escaped_and_an_unknown_article_has_an_empty_feed(client):
    post_comment(client, body="<script>alert(1)</script> & ]]> \x0b", author_name='"><x a="')
    parsed, response = read_feed(client, SITE_FEED)
    [entry] = parsed.entries
    assert "<script>" not in entry.content[0].value
    assert entry.author_detail.name == '"><x a="'
    assert b"<script>" not in response.get_data()
    empty, _ = read_feed(client, "/api/v1/articles/nobody-here/comments.atom")
    assert empty.entries == []
    assert client.get("/api/v1/articles/bad%20key/comments.atom").status_code == 404
