"""Article summary, batch counts and trending through HTTP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
import sqlalchemy as sa
import time_machine

from engagement.config import DEFAULT_REACTION_KINDS
from engagement.extensions import db
from engagement.models import ActivityBucket, Article
from tests.factories import (
    assert_error,
    browser_headers,
    get_article,
    make_articles_known,
    mint_reader,
    post_comment,
    react,
    send_view,
)
from tests.sql import counting_statements, sqlite_query_plan, statements_with_parameters

ZEROS = dict.fromkeys(DEFAULT_REACTION_KINDS, 0)
NOW = datetime(2025, 9, 13, 12, 30, tzinfo=timezone.utc)


def views_from(client, article, readers):
    for n in range(readers):
        send_view(client, article, address=f"198.51.100.{n + 1}")


def trending(client, **params):
    make_articles_known(client)
    response = client.get("/api/v1/trending", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["articles"]


# --- article summary ---------------------------------------------------------------------

def test_summary_of_an_untouched_article_is_not_found(client):
    assert_error(client.get("/api/v1/articles/nobody-touched"), 404, "not_found")
    assert_error(client.get("/api/v1/articles/-bad-key"), 404, "not_found")


def test_summary_shows_every_counter(client):
    post_comment(client, "story")
    post_comment(client, "story", body="second")
    send_view(client, "story")
    react(client, "love", "story")
    assert get_article(client, "story") == {
        "key": "story",
        "title": None,
        "url": None,
        "views": 1,
        "comment_count": 2,
        "reactions": {**ZEROS, "love": 1},
        "comments_closed": False,
    }


# --- counts --------------------------------------------------------------------------------

def test_counts_give_zeros_for_unknown_keys_and_accept_duplicates(client):
    send_view(client, "known")
    post_comment(client, "known")
    react(client, "like", "known")
    response = client.get("/api/v1/counts", query_string={"articles": ["known", "unknown", "known"]})
    assert response.status_code == 200
    assert response.get_json() == {
        "known": {"views": 1, "comments": 1, "reactions": {**ZEROS, "like": 1}},
        "unknown": {"views": 0, "comments": 0, "reactions": ZEROS},
    }
    assert_error(client.get("/api/v1/articles/unknown"), 404, "not_found")


def test_counts_show_the_configured_kinds_in_their_order_whatever_was_stored(app_factory):
    before = app_factory().test_client()
    for kind in ("like", "angry", "sad"):
        react(before, kind, "story")
    # The site's kinds change: totals of kinds no longer configured are not shown.
    after = app_factory(REACTION_KINDS=["sad", "up", "like"]).test_client()
    body = after.get("/api/v1/counts", query_string={"articles": ["story", "untouched"]}).get_json()
    assert list(body["story"]["reactions"].items()) == [("sad", 1), ("up", 0), ("like", 1)]
    assert list(body["untouched"]["reactions"].items()) == [("sad", 0), ("up", 0), ("like", 0)]


def test_counts_accept_100_keys_in_two_queries(app, client):
    keys = [f"article-{n}" for n in range(100)]
    for key in keys[:3]:
        react(client, "sad", key)
    with counting_statements(app) as statements:
        response = client.get("/api/v1/counts", query_string={"articles": keys})
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == keys
    assert body["article-0"]["reactions"]["sad"] == 1
    assert body["article-99"] == {"views": 0, "comments": 0, "reactions": ZEROS}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert 1 <= len(selects) <= 2
    assert len(statements) == len(selects)  # reading writes nothing


def test_counts_refuse_more_than_100_keys(client):
    keys = [f"article-{n}" for n in range(101)]
    error = assert_error(client.get("/api/v1/counts", query_string={"articles": keys}), 422, "validation_error")
    assert "articles" in error["fields"]


@pytest.mark.parametrize(
    "query",
    [{}, {"articles": ""}, {"articles": "-starts-with-dash"}, {"articles": "has space"}, {"articles": "x" * 201},
     {"articles": "trailing-newline\n"}],
    ids=["none", "empty", "dash", "space", "too-long", "newline"],
)
def test_counts_refuse_missing_or_malformed_keys(client, query):
    assert_error(client.get("/api/v1/counts", query_string=query), 422, "validation_error")


def test_counts_name_each_malformed_key_by_its_position(client):
    keys = ["fine", "-bad", "also-fine", "x" * 201]
    error = assert_error(client.get("/api/v1/counts", query_string={"articles": keys}), 422, "validation_error")
    assert error["fields"] == {"articles.1": ["Not a valid article key."], "articles.3": ["Not a valid article key."]}


# --- trending -----------------------------------------------------------------------------

def test_trending_is_empty_without_activity(client):
    assert trending(client) == []


def test_trending_order_on_a_constructed_data_set(client):
    with time_machine.travel(NOW - timedelta(hours=20), tick=False):
        views_from(client, "old-crowd", 12)  # 12 views, 20 hours ago
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        views_from(client, "last-week", 40)  # outside 24h, inside 7d
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        views_from(client, "fresh", 3)  # 3 views, just now
        for n in range(2):
            react(client, "like", "reacted", headers=browser_headers(mint_reader(client)))
        post_comment(client, "discussed")
    with time_machine.travel(NOW, tick=False):
        day = trending(client)
        week = trending(client, window="7d")
        month = trending(client, window="30d", limit=2)

    # 24h: decayed (half-life 6 h) weighted sums; "last-week" is outside the window.
    assert [a["key"] for a in day] == ["reacted", "discussed", "fresh", "old-crowd"]
    scores = {a["key"]: a["score"] for a in day}
    assert scores["reacted"] == pytest.approx(2 * 3 * 0.5 ** (0.5 / 6), abs=1e-3)
    assert scores["discussed"] == pytest.approx(5 * 0.5 ** (0.5 / 6), abs=1e-3)
    assert scores["fresh"] == pytest.approx(3 * 0.5 ** (0.5 / 6), abs=1e-3)
    assert scores["old-crowd"] == pytest.approx(12 * 0.5 ** (20.5 / 6), abs=1e-3)

    # 7d (half-life 48 h): three days' old volume still wins.
    assert [a["key"] for a in week] == ["last-week", "old-crowd", "reacted", "discussed", "fresh"]
    assert [a["key"] for a in month] == ["last-week", "old-crowd"]

    entry = next(a for a in day if a["key"] == "reacted")
    assert entry == {
        "key": "reacted", "title": None, "url": "https://news.example/reacted", "score": entry["score"],
        "views": 0, "comments": 0, "reactions": {**ZEROS, "like": 2},
    }
    assert next(a for a in day if a["key"] == "discussed")["comments"] == 1


def test_trending_breaks_ties_by_key_and_honours_limit(client):
    with time_machine.travel(NOW, tick=False):
        for key in ("b-tie", "c-tie", "a-tie"):
            send_view(client, key)
        assert [a["key"] for a in trending(client)] == ["a-tie", "b-tie", "c-tie"]
        assert [a["key"] for a in trending(client, limit=2)] == ["a-tie", "b-tie"]


def test_activity_leaves_the_window(client):
    with time_machine.travel(NOW, tick=False) as clock:
        send_view(client, "passing")
        assert [a["key"] for a in trending(client)] == ["passing"]
        clock.move_to(NOW + timedelta(hours=25))
        assert trending(client) == []
        assert [a["key"] for a in trending(client, window="7d")] == ["passing"]


def test_trending_reads_only_the_window_s_buckets_on_sqlite(app, client, is_postgres):
    """Buckets are kept for 31 days; SQLite, which keeps no statistics, must still find a
    24-hour window's by their hour instead of reading all of them in article order, and
    look each article up once, not once per bucket."""
    if is_postgres:
        pytest.skip("PostgreSQL plans from its own statistics")
    with statements_with_parameters(app) as executed:
        trending(client, window="24h")
    [(ranking, parameters)] = [(statement, sent) for statement, sent in executed if "activity_buckets" in statement]
    plan = sqlite_query_plan(app, ranking, parameters)
    assert "SEARCH activity_buckets USING PRIMARY KEY (hour>?)" in plan, plan
    assert [step for step in plan if step.startswith("SEARCH articles")] == [
        "SEARCH articles USING INTEGER PRIMARY KEY (rowid=?)"
    ], plan


def test_withdrawn_reactions_and_comments_leave_trending(client):
    headers = browser_headers(mint_reader(client))
    react(client, "like", "toggled", headers=headers)
    react(client, "like", "toggled", method="DELETE", headers=headers)
    react(client, "like", "toggled", headers=headers)
    react(client, "like", "toggled", method="DELETE", headers=headers)
    posted = post_comment(client, "withdrawn")
    deleted = client.delete(f"/api/v1/comments/{posted['id']}", headers={"X-Edit-Token": posted["edit_token"]})
    assert deleted.status_code == 204
    assert trending(client) == []


def test_a_reaction_withdrawn_hours_later_leaves_the_hour_it_was_given(app, client):
    headers = browser_headers(mint_reader(client))
    with time_machine.travel(NOW, tick=False) as clock:
        react(client, "like", "given-earlier", headers=headers)
        send_view(client, "given-earlier")
        # The reaction and the view of one hour share its bucket (one row, both counted).
        assert activity_buckets(app, "given-earlier") == [(NOW.replace(minute=0), 1, 1)]
        clock.move_to(NOW + timedelta(hours=3))
        react(client, "like", "given-earlier", method="DELETE", headers=headers)
        assert activity_buckets(app, "given-earlier") == [(NOW.replace(minute=0), 1, 0)]
        assert [a["reactions"]["like"] for a in trending(client)] == [0]


def test_a_view_counts_in_the_hour_of_its_claim_and_again_when_renewed(app, client):
    headers = browser_headers(mint_reader(client))
    with time_machine.travel(NOW, tick=False) as clock:
        send_view(client, "watched", headers=headers)
        clock.move_to(NOW + timedelta(minutes=20))
        send_view(client, "watched", headers=headers)  # within the window: not counted
        clock.move_to(NOW + timedelta(minutes=65))  # the mark expired: renewed, counted again
        assert send_view(client, "watched", headers=headers) == 2
    hour = NOW.replace(minute=0)
    assert activity_buckets(app, "watched") == [(hour, 1, 0), (hour + timedelta(hours=1), 1, 0)]


def test_a_counted_view_changes_its_article_and_bucket_in_one_statement_on_postgresql(app, client, database_url):
    """Every view of an article updates the same two rows, each locked until the commit: on
    PostgreSQL one statement claims the reader's mark and changes both (SQLite has no
    UPDATE inside WITH: three)."""
    with time_machine.travel(NOW, tick=False):
        send_view(client, "hot")
        with counting_statements(app) as statements:
            assert send_view(client, "hot", address="192.0.2.9") == 2
    writes = [statement for statement in statements if "UPDATE articles" in statement
              or "activity_buckets" in statement or "view_marks" in statement]
    if database_url.startswith("postgresql"):
        assert len(writes) == 1, writes
        assert all(part in writes[0] for part in ("INSERT INTO view_marks", "UPDATE articles", "INSERT INTO activity_buckets"))
    else:
        assert len(writes) == 3, writes
    assert activity_buckets(app, "hot") == [(NOW.replace(minute=0), 2, 0)]
    assert get_article(client, "hot")["views"] == 2


def activity_buckets(app, key):
    """(hour, views, reactions) of the article's trending buckets, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(ActivityBucket.hour, ActivityBucket.views, ActivityBucket.reactions)
            .join(Article, Article.id == ActivityBucket.article_id)
            .where(Article.key == key)
            .order_by(ActivityBucket.hour)
        )
        return [tuple(row) for row in rows]


def test_held_comments_do_not_trend(app_factory):
    client = app_factory(MODERATION="pre").test_client()
    post_comment(client, "held")
    assert trending(client) == []


def test_weights_are_configurable(app_factory):
    client = app_factory(TRENDING_VIEW_WEIGHT=10.0, TRENDING_REACTION_WEIGHT=0.0).test_client()
    with time_machine.travel(NOW, tick=False):
        send_view(client, "viewed")
        react(client, "like", "liked")
        ranked = trending(client)
    assert [a["key"] for a in ranked] == ["viewed"]
    assert ranked[0]["score"] == pytest.approx(10 * 0.5 ** (0.5 / 6), abs=1e-3)


@pytest.mark.parametrize(
    "query", [{"window": "1d"}, {"window": ""}, {"limit": 0}, {"limit": 51}, {"limit": "ten"}]
)
def test_trending_refuses_bad_parameters(client, query):
    assert_error(client.get("/api/v1/trending", query_string=query), 422, "validation_error")


def test_every_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get"} <= set(paths["/api/v1/articles/{key}"])
    assert {"post"} <= set(paths["/api/v1/articles/{key}/views"])
    assert {"get"} <= set(paths["/api/v1/articles/{key}/reactions"])
    assert {"put", "delete"} <= set(paths["/api/v1/articles/{key}/reactions/{kind}"])
    assert {"get"} <= set(paths["/api/v1/counts"])
    assert {"get"} <= set(paths["/api/v1/trending"])
    assert "requestBody" in paths["/api/v1/comments/{comment_id}/vote"]["post"]
    assert "202" in paths["/api/v1/articles/{key}/views"]["post"]["responses"]


@given(
    views=st.integers(min_value=0, max_value=2**31 - 1),
    comments=st.integers(min_value=0, max_value=2**31 - 1),
    reactions=st.dictionaries(st.sampled_from(DEFAULT_REACTION_KINDS), st.integers(min_value=0, max_value=10**9)),
)
def test_counts_documents_are_what_the_schema_would_dump(views, comments, reactions):
    """/counts builds each entry without a per-entry schema dump: it must equal the dump."""
    from engagement.schemas.engagement import ArticleCountsSchema, article_counts_document
    from engagement.services.article_stats import ArticleCounts

    counts = ArticleCounts(views, comments, {**ZEROS, **reactions})
    assert article_counts_document(counts) == ArticleCountsSchema().dump(counts)


@given(
    entries=st.dictionaries(
        st.from_regex(r"[a-z0-9][a-z0-9._:-]{0,20}", fullmatch=True),
        st.tuples(
            st.integers(min_value=0, max_value=2**31 - 1),
            st.integers(min_value=0, max_value=2**31 - 1),
            st.dictionaries(st.sampled_from(DEFAULT_REACTION_KINDS), st.integers(min_value=0, max_value=10**9)),
        ),
        max_size=5,
    )
)
def test_a_counts_answer_is_written_as_the_schema_would_dump_it(entries):
    """/counts writes its answer without the schema's dump: it must be the dump, written as JSON."""
    import orjson

    from engagement.schemas.engagement import CountsSchema, counts_json
    from engagement.services.article_stats import ArticleCounts

    answer = {
        key: ArticleCounts(views, comments, {**ZEROS, **reactions})
        for key, (views, comments, reactions) in entries.items()
    }
    assert counts_json(answer) == orjson.dumps(CountsSchema().dump(answer)) + b"\n"
