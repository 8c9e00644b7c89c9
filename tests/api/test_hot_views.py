"""Views counted in Redis through the HTTP API: immediate reads, the flush command, several
app instances on one database and one Redis, and the fallback when Redis is down.

The Redis tests need REDIS_URL; they empty that Redis database before and after each test.
"""
from __future__ import annotations

import logging
import os

import pytest
import redis
import sqlalchemy as sa

from engagement.config import ConfigurationError, load_config
from engagement.extensions import db
from engagement.observability import ThrottledWarnings
from engagement.models import Article
from engagement.services import hot_views
from tests.factories import browser_headers, get_article, make_articles_known, mint_reader, post_comment, send_view

REDIS_URL = os.environ.get("REDIS_URL")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

SUMMARY = "/api/v1/articles/story"
COUNTS = "/api/v1/counts?articles=story&articles=other&articles=unknown"
TRENDING = "/api/v1/trending"


@pytest.fixture
def hot_app(app_factory, redis_client):
    return app_factory(REDIS_URL=REDIS_URL)


@pytest.fixture
def client(hot_app):
    return hot_app.test_client()


def stored_views(app, key: str = "story") -> int:
    with app.app_context():
        views = db.session.scalar(sa.select(Article.views).where(Article.key == key))
        db.session.remove()
    return views or 0


def flush(app) -> str:
    result = app.test_cli_runner().invoke(args=["engagement", "flush-views"])
    assert result.exit_code == 0, result.output
    return result.output


def views_by(client, key: str, *addresses: str) -> list[int]:
    return [send_view(client, key, address=address) for address in addresses]


def counts(client) -> dict[str, int]:
    response = client.get(COUNTS)
    assert response.status_code == 200
    return {key: entry["views"] for key, entry in response.get_json().items()}


def trending_views(client) -> dict[str, int]:
    make_articles_known(client)
    response = client.get(TRENDING)
    assert response.status_code == 200
    return {entry["key"]: entry["views"] for entry in response.get_json()["articles"]}


def everything(client) -> tuple[object, ...]:
    """Summary and counts with their validators, and the views trending shows for "story".

    (Trending ranks on flushed activity only, so after a flush scores move and other
    articles may join; the view totals it shows do not change.)
    """
    make_articles_known(client)
    responses = [client.get(url) for url in (SUMMARY, COUNTS)]
    assert all(response.status_code == 200 for response in responses)
    return (
        *((response.get_json(), response.headers["ETag"]) for response in responses),
        trending_views(client)["story"],
    )


def test_counted_views_show_at_once_in_every_read_before_any_flush(hot_app, client, redis_client):
    post_comment(client, "story")  # activity in SQL, so the article trends
    assert views_by(client, "story", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1") == [1, 2, 3, 3]
    assert views_by(client, "other", "192.0.2.1") == [1]

    assert stored_views(hot_app) == 0  # still only in Redis
    assert redis_client.hget("engagement:views:pending", "story") == "3"
    assert get_article(client, "story")["views"] == 3
    assert counts(client) == {"story": 3, "other": 1, "unknown": 0}
    assert trending_views(client) == {"story": 3}


def test_the_flush_command_moves_views_into_sql_and_reads_stay_the_same(hot_app, client, redis_client):
    post_comment(client, "story")
    views_by(client, "story", "192.0.2.1", "192.0.2.2", "192.0.2.3")
    views_by(client, "other", "192.0.2.1")
    before = everything(client)

    assert "flushed 4 view(s) in 1 batch(es)" in flush(hot_app)
    assert (stored_views(hot_app, "story"), stored_views(hot_app, "other")) == (3, 1)
    assert redis_client.exists("engagement:views:pending") == 0
    assert everything(client) == before  # same bodies, same validators
    assert "flushed 0 view(s) in 0 batch(es)" in flush(hot_app)

    assert views_by(client, "story", "192.0.2.9") == [4]
    assert get_article(client, "story")["views"] == 4


def test_a_view_changes_the_validators_at_once_and_a_flush_does_not(hot_app, client):
    send_view(client, "story", address="192.0.2.1")
    etags = {url: client.get(url).headers["ETag"] for url in (SUMMARY, COUNTS)}
    send_view(client, "story", address="192.0.2.2")
    for url, etag in etags.items():
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 200, url

    etags = {url: client.get(url).headers["ETag"] for url in (SUMMARY, COUNTS)}
    flush(hot_app)
    for url, etag in etags.items():
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304, url


def test_reads_stay_exact_while_a_crashed_flush_waits_for_its_cleanup(hot_app, client, monkeypatch):
    post_comment(client, "story")
    views_by(client, "story", "192.0.2.1", "192.0.2.2")
    before = everything(client)

    def crash(self, batch_id):
        raise redis.ConnectionError("Redis went away between commit and cleanup")

    with monkeypatch.context() as patch:
        patch.setattr(hot_views.ViewCounter, "release", crash)
        result = hot_app.test_cli_runner().invoke(args=["engagement", "flush-views"])
    assert result.exit_code != 0 and "nothing lost" in result.output
    assert stored_views(hot_app) == 2
    assert everything(client) == before  # applied in SQL and still in Redis: counted once

    assert "flushed 0 view(s) in 1 batch(es)" in flush(hot_app)
    assert stored_views(hot_app) == 2
    assert everything(client) == before


def test_two_app_instances_on_one_database_and_one_redis_agree_on_every_count(app_factory, redis_client):
    first_app, second_app = app_factory(REDIS_URL=REDIS_URL), app_factory(REDIS_URL=REDIS_URL)
    first, second = first_app.test_client(), second_app.test_client()
    post_comment(first, "story")
    token = mint_reader(first)

    assert send_view(first, "story", headers=browser_headers(token)) == 1
    assert send_view(second, "story", headers=browser_headers(token)) == 1  # one reader, counted once
    assert views_by(second, "story", "192.0.2.1", "192.0.2.2") == [2, 3]
    assert views_by(first, "story", "192.0.2.3") == [4]
    assert views_by(first, "other", "192.0.2.1") == [1]
    assert views_by(second, "other", "192.0.2.1", "192.0.2.5") == [1, 2]

    expected = {"story": 4, "other": 2, "unknown": 0}
    assert counts(first) == counts(second) == expected
    assert get_article(first, "story") == get_article(second, "story")
    assert trending_views(first) == trending_views(second) == {"story": 4}

    flush(second_app)
    assert views_by(first, "story", "192.0.2.6") == [5]
    assert counts(first) == counts(second) == {**expected, "story": 5}
    flush(first_app)
    assert counts(first) == counts(second) == {**expected, "story": 5}
    assert (stored_views(first_app, "story"), stored_views(second_app, "other")) == (5, 2)


def test_a_serving_thread_keeps_one_redis_connection_and_survives_losing_it(hot_app, client, redis_client):
    assert views_by(client, "story", "192.0.2.1") == [1]
    opened = redis_client.info("stats")["total_connections_received"]
    assert views_by(client, "story", *(f"192.0.2.{n}" for n in range(2, 22))) == list(range(2, 22))
    assert counts(client)["story"] == 21
    # The same connection, request after request: Redis saw none opened meanwhile.
    assert redis_client.info("stats")["total_connections_received"] == opened
    # Redis drops every other connection (a restart, a proxy's idle timeout): the next
    # beacon reconnects and still counts in Redis, not in SQL.
    redis_client.client_kill_filter(skipme=True)
    assert views_by(client, "story", "192.0.2.99") == [22]
    assert redis_client.hget("engagement:views:pending", "story") == "22"
    assert stored_views(hot_app) == 0


def test_bots_are_not_counted_but_see_the_unflushed_count(hot_app, client, redis_client):
    views_by(client, "story", "192.0.2.1", "192.0.2.2")
    bot = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    assert send_view(client, "story", headers=bot) == 2
    assert send_view(client, "never-seen", headers=bot) == 0
    assert redis_client.hget("engagement:views:pending", "story") == "2"
    assert client.get("/api/v1/articles/never-seen").status_code == 404


def test_with_redis_unreachable_the_beacon_counts_in_sql(app_factory, monkeypatch, caplog):
    monkeypatch.setattr(hot_views, "_warnings", ThrottledWarnings(hot_views.logger, hot_views.WARNING_INTERVAL_SECONDS))
    app = app_factory(REDIS_URL=UNREACHABLE_REDIS)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="engagement.hot_views"):
        assert views_by(client, "story", "192.0.2.1", "192.0.2.1", "192.0.2.2") == [1, 1, 2]
        assert get_article(client, "story")["views"] == 2
        assert counts(client) == {"story": 2, "other": 0, "unknown": 0}
    assert stored_views(app) == 2
    warnings = [record.getMessage() for record in caplog.records if record.name == "engagement.hot_views"]
    # One warning per kind of failure (counting, reading), not one per request.
    assert len([message for message in warnings if "counting views in SQL" in message]) == 1
    assert 1 <= len(warnings) <= 2


def test_the_flush_command_without_redis_says_there_is_nothing_to_flush(app_factory):
    app = app_factory(REDIS_URL=None)
    assert "engagement.view_counter" not in app.extensions
    assert "nothing to flush" in flush(app)


def test_the_flush_command_fails_loudly_when_redis_is_unreachable(app_factory):
    app = app_factory(REDIS_URL=UNREACHABLE_REDIS)
    result = app.test_cli_runner().invoke(args=["engagement", "flush-views"])
    assert result.exit_code != 0
    assert "nothing lost" in result.output


def test_the_flush_interval_is_configurable_and_checked(tmp_path):
    config = load_config(str(tmp_path), environ={"SECRET_KEY": "k" * 40, "ENGAGEMENT_VIEW_FLUSH_SECONDS": "0.5"})
    assert config["VIEW_FLUSH_SECONDS"] == 0.5
    assert load_config(str(tmp_path), environ={"SECRET_KEY": "k" * 40})["VIEW_FLUSH_SECONDS"] == 5
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(ConfigurationError, match="ENGAGEMENT_VIEW_FLUSH_SECONDS"):
            load_config(str(tmp_path), environ={"SECRET_KEY": "k" * 40, "ENGAGEMENT_VIEW_FLUSH_SECONDS": bad})
