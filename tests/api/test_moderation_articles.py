"""Article settings from moderators: title, url, closing, pre-moderation; closing by age."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    create_api_token,
    flag_comment,
    list_comments,
    mod_headers,
    post_comment,
)

MOD = "/api/v1/mod"



def put_article(client, headers, key=DEFAULT_ARTICLE, expect=200, **body):
    response = client.put(f"{MOD}/articles/{key}", json=body, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def last_audit(client, headers):
    return client.get(f"{MOD}/audit", query_string={"limit": 1}, headers=headers).get_json()["entries"][0]


def test_put_creates_a_missing_article_and_returns_its_summary(client, mod):
    assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}").status_code == 404
    article = put_article(client, mod, title="  Belarus:\u200b prisoners  ", url="https://news.example/belarus")
    assert article == {
        "key": DEFAULT_ARTICLE,
        "title": "Belarus: prisoners",
        "url": "https://news.example/belarus",
        "views": 0,
        "comment_count": 0,
        "reactions": {"like": 0, "love": 0, "insightful": 0, "surprised": 0, "sad": 0, "angry": 0},
        "comments_closed": False,
        "moderation": "post",
    }
    public = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}").get_json()
    assert public["title"] == "Belarus: prisoners" and public["url"] == "https://news.example/belarus"
    entry = last_audit(client, mod)
    assert entry["action"] == "article.update" and entry["target"] == f"article:{DEFAULT_ARTICLE}"
    assert entry["details"]["created"] is True
    assert entry["details"]["after"] == {"title": "Belarus: prisoners", "url": "https://news.example/belarus"}


def test_put_updates_only_the_fields_given_and_null_resets(client, mod):
    post_comment(client)
    put_article(client, mod, title="First", moderation="pre")
    article = put_article(client, mod, url="https://news.example/a")
    assert (article["title"], article["url"], article["moderation"], article["comment_count"]) == (
        "First", "https://news.example/a", "pre", 1,
    )
    entry = last_audit(client, mod)
    assert entry["details"] == {
        "key": DEFAULT_ARTICLE, "created": False, "before": {"url": None}, "after": {"url": "https://news.example/a"},
    }
    article = put_article(client, mod, moderation=None, title=None)
    assert article["moderation"] == "post" and article["title"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://files.example/a"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "news.example/a"}, "url"),
        ({"title": "x" * 301}, "title"),
        ({"title": 5}, "title"),
        ({"comments_closed": "yes"}, "comments_closed"),
        ({"moderation": "later"}, "moderation"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_invalid_article_settings_are_422_and_change_nothing(client, mod, body, field):
    response = client.put(f"{MOD}/articles/{DEFAULT_ARTICLE}", json=body, headers=mod)
    assert field in assert_error(response, 422, "validation_error")["fields"]
    assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}").status_code == 404


def test_the_longest_article_key_is_accepted_and_audited(client, mod):
    key = "k" * 200
    assert put_article(client, mod, key, title="Long")["key"] == key
    entry = last_audit(client, mod)
    assert entry["details"]["key"] == key and entry["target"].startswith("article:kkk")


def test_bad_article_key_is_404(client, mod):
    assert_error(client.put(f"{MOD}/articles/-bad", json={"title": "x"}, headers=mod), 404, "not_found")


class TestPremoderation:
    def test_per_article_premoderation_then_approval(self, client, mod):
        put_article(client, mod, moderation="pre")
        held = post_comment(client, body="held for review")
        assert held["status"] == "pending"
        assert post_comment(client, "another-article")["status"] == "approved"
        assert list_comments(client)["comments"] == []

        client.patch(f"{MOD}/comments/{held['id']}", json={"status": "approved"}, headers=mod)
        page = list_comments(client)
        assert [c["id"] for c in page["comments"]] == [held["id"]]
        assert page["article"]["comment_count"] == 1

    def test_an_article_may_opt_out_of_site_wide_premoderation(self, app_factory):
        app = app_factory(MODERATION="pre")
        client, mod = app.test_client(), mod_headers(create_api_token(app))
        assert put_article(client, mod, moderation="post")["moderation"] == "post"
        assert post_comment(client)["status"] == "approved"
        assert post_comment(client, "elsewhere")["status"] == "pending"


    def test_thread_page_says_whether_comments_wait_for_a_moderator(self, client, mod):
        assert list_comments(client)["article"]["premoderated"] is False  # unknown article: the site default
        post_comment(client)
        before = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments")
        assert before.get_json()["article"]["premoderated"] is False
        put_article(client, mod, moderation="pre")
        # The cached page is revalidated: the change shows at once, and an old validator no longer matches.
        again = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments",
                           headers={"If-None-Match": before.headers["ETag"]})
        assert again.status_code == 200 and again.get_json()["article"]["premoderated"] is True
        put_article(client, mod, moderation=None)
        assert list_comments(client)["article"]["premoderated"] is False

    def test_thread_page_follows_the_site_default_unless_the_article_sets_its_own(self, app_factory):
        post_app = app_factory()
        post_comment(post_app.test_client())
        post_comment(post_app.test_client(), "own-setting")
        first = post_app.test_client().get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments")
        # The same database after a restart with site-wide premoderation: old validators do not match.
        app = app_factory(MODERATION="pre")
        client, mod = app.test_client(), mod_headers(create_api_token(app))
        response = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments",
                              headers={"If-None-Match": first.headers["ETag"]})
        assert response.status_code == 200 and response.get_json()["article"]["premoderated"] is True
        assert list_comments(client, "never-seen")["article"]["premoderated"] is True
        put_article(client, mod, key="own-setting", moderation="post")
        assert list_comments(client, "own-setting")["article"]["premoderated"] is False


class TestClosing:
    def test_closed_thread_refuses_comments_and_flags_and_says_so(self, client, mod):
        comment = post_comment(client)
        assert put_article(client, mod, comments_closed=True)["comments_closed"] is True
        response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "too late"})
        assert_error(response, 403, "comments_closed")
        assert_error(flag_comment(client, comment["id"], expect=403), 403, "comments_closed")
        page = list_comments(client)
        assert page["article"]["comments_closed"] is True
        assert [c["id"] for c in page["comments"]] == [comment["id"]]  # what was said stays

        put_article(client, mod, comments_closed=False)
        post_comment(client, body="open again")

    def test_threads_close_by_age_when_configured(self, app_factory):
        app = app_factory(AUTO_CLOSE_DAYS=7)
        client, mod = app.test_client(), mod_headers(create_api_token(app))
        with time_machine.travel("2026-02-01 09:00:00Z", tick=False) as clock:
            comment = post_comment(client, body="day one")
            clock.shift(timedelta(days=7))
            post_comment(client, body="still within the week")
            clock.shift(timedelta(minutes=1))
            post_comment(client, "a-new-article", body="new articles stay open")

            response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "a week late"})
            assert_error(response, 403, "comments_closed")
            assert_error(flag_comment(client, comment["id"], expect=403), 403, "comments_closed")
            assert list_comments(client)["article"]["comments_closed"] is True
            assert list_comments(client, "a-new-article")["article"]["comments_closed"] is False
            assert put_article(client, mod)["comments_closed"] is True
            assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}").get_json()["comments_closed"] is True

    def test_no_closing_by_age_by_default(self, client):
        with time_machine.travel("2026-02-01 09:00:00Z", tick=False) as clock:
            post_comment(client, body="long ago")
            clock.shift(timedelta(days=3650))
            post_comment(client, body="ten years later")
            assert list_comments(client)["article"]["comments_closed"] is False
