"""What the moderators' console reads besides the queue: an author's other comments, the token's
own name and role, the index of articles, and the figures per day."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from tests.factories import (
    assert_error,
    create_api_token,
    flag_comment,
    mint_reader,
    mod_headers,
    post_comment,
    reader_headers,
    send_view,
)
from tests.sql import counting_statements

QUEUE = "/api/v1/mod/comments"
ARTICLES = "/api/v1/mod/articles"
DAILY = "/api/v1/mod/stats/daily"


def get_ok(client, path, headers, **params):
    response = client.get(path, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- author_of ----------------------------------------------------------------------------------

def test_author_of_lists_that_authors_comments_in_every_status_without_their_identities(client, mod):
    ana = reader_headers(mint_reader(client))
    bob = reader_headers(mint_reader(client))
    first = post_comment(client, body="ana one", headers=ana, author_email="ana@example.org")
    post_comment(client, body="bob one", headers=bob)
    second = post_comment(client, "another-article", body="ana two", headers=ana)
    client.patch(f"{QUEUE}/{second['id']}", json={"status": "rejected"}, headers=mod)
    # Same email from another browser: the same author, as a ban's purge sees it.
    third = post_comment(client, body="ana three", headers=reader_headers(mint_reader(client)),
                         author_email="ANA@example.org")

    page = get_ok(client, QUEUE, mod, author_of=first["id"], status="all")
    assert [c["id"] for c in page["comments"]] == [third["id"], second["id"], first["id"]]
    text = str(page)
    for secret in ("reader_hash", "address_hash", "email_hash"):
        assert secret not in text
    approved_only = get_ok(client, QUEUE, mod, author_of=first["id"], status="approved")
    assert [c["id"] for c in approved_only["comments"]] == [third["id"], first["id"]]


def test_author_of_pages_with_the_queue_cursor(client, mod):
    ana = reader_headers(mint_reader(client))
    posted = [post_comment(client, body=f"ana {n}", headers=ana)["id"] for n in range(5)]
    post_comment(client, body="someone else", headers=reader_headers(mint_reader(client)))
    seen, cursor = [], None
    while True:
        params = {"author_of": posted[0], "status": "approved", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = get_ok(client, QUEUE, mod, **params)
        seen += [c["id"] for c in page["comments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(posted))


def test_author_of_an_unknown_comment_is_404_and_a_malformed_one_422(client, mod):
    assert_error(client.get(QUEUE, query_string={"author_of": 999999}, headers=mod), 404, "not_found")
    error = assert_error(client.get(QUEUE, query_string={"author_of": "x"}, headers=mod), 422, "validation_error")
    assert "author_of" in error["fields"]


def test_queue_comments_carry_the_article_title_and_a_replys_parent(client, mod):
    parent = post_comment(client, "titled", body="the parent")
    client.put(f"{ARTICLES}/titled", json={"title": "A Title", "url": "https://news.example/a"}, headers=mod)
    reply = post_comment(client, "titled", body="the reply", parent_id=parent["id"])
    comments = {c["id"]: c for c in get_ok(client, QUEUE, mod, status="approved")["comments"]}
    assert comments[reply["id"]]["article_title"] == "A Title"
    assert comments[reply["id"]]["article_url"] == "https://news.example/a"
    assert comments[reply["id"]]["parent"] == {
        "id": parent["id"], "author_name": "Anonymous", "body_html": "<p>the parent</p>", "status": "approved",
    }
    assert comments[parent["id"]]["parent"] is None


# --- the token's own identity -------------------------------------------------------------------

def test_me_names_the_token_and_its_role(app, client, mod, admin):
    assert get_ok(client, "/api/v1/mod/me", mod) == {"name": "mod", "role": "moderator"}
    assert get_ok(client, "/api/v1/mod/me", admin) == {"name": "root", "role": "admin"}
    assert_error(client.get("/api/v1/mod/me"), 401, "unauthorized")


# --- the index of articles ----------------------------------------------------------------------

def _seed_articles(client, mod):
    """quiet: 1 comment; busy: 3 comments; flagged: 2 comments, 2 open flags, pre-moderated."""
    with time_machine.travel("2026-03-01 08:00:00Z", tick=False) as clock:
        post_comment(client, "quiet", body="q")
        clock.shift(timedelta(hours=1))
        for n in range(3):
            post_comment(client, "busy", body=f"b{n}")
        clock.shift(timedelta(hours=1))
        flagged = [post_comment(client, "flagged", body=f"f{n}") for n in range(2)]
        flag_comment(client, flagged[0]["id"], "spam")
        flag_comment(client, flagged[1]["id"], "abuse", note="rude")
        client.put(f"{ARTICLES}/flagged", json={"moderation": "pre", "title": "Flagged story"}, headers=mod)
        post_comment(client, "flagged", body="held")
        clock.shift(timedelta(hours=1))
        # An untouched hour since, then a view on the quiet one: the most recent activity.
        send_view(client, "quiet")


@pytest.mark.parametrize(
    "sort, expected",
    [("activity", ["quiet", "flagged", "busy"]), ("comments", ["busy", "flagged", "quiet"]),
     ("flags", ["flagged", "busy", "quiet"])],
)
def test_articles_in_each_order(client, mod, sort, expected):
    _seed_articles(client, mod)
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        page = get_ok(client, ARTICLES, mod, sort=sort)
    assert [a["key"] for a in page["articles"]] == expected
    assert page["next_cursor"] is None


def test_an_indexed_article_says_what_waits_for_moderators(client, mod):
    _seed_articles(client, mod)
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False):
        articles = {a["key"]: a for a in get_ok(client, ARTICLES, mod)["articles"]}
    assert articles["flagged"] == {
        "key": "flagged", "title": "Flagged story", "url": None, "comment_count": 2, "pending": 1,
        "open_flags": 2, "comments_closed": False, "moderation": "pre",
        "created_at": "2026-03-01T10:00:00Z", "last_activity_at": "2026-03-01T10:00:00Z",
    }
    assert articles["quiet"]["last_activity_at"] == "2026-03-01T11:00:00Z"
    assert articles["busy"]["moderation"] == "post"


def test_articles_search_key_and_title_ignoring_case(client, mod):
    _seed_articles(client, mod)
    assert [a["key"] for a in get_ok(client, ARTICLES, mod, q="BUS")["articles"]] == ["busy"]
    assert [a["key"] for a in get_ok(client, ARTICLES, mod, q="story")["articles"]] == ["flagged"]
    assert get_ok(client, ARTICLES, mod, q="%")["articles"] == []


@pytest.mark.parametrize("sort", ["activity", "comments", "flags"])
def test_article_cursors_walk_every_article_once_in_each_order(client, mod, sort):
    keys = [f"a-{n:02d}" for n in range(7)]
    for n, key in enumerate(keys):
        for m in range(1 + n % 3):  # ties in comment counts, broken by the newest article first
            post_comment(client, key, body=f"{key} {m}")
        if n % 2:
            flag_comment(client, post_comment(client, key, body=f"{key} flag me")["id"], "spam")
    whole = [a["key"] for a in get_ok(client, ARTICLES, mod, sort=sort, limit=100)["articles"]]
    seen, cursor = [], None
    while True:
        page = get_ok(client, ARTICLES, mod, sort=sort, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [a["key"] for a in page["articles"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole and sorted(seen) == keys


def test_an_article_cursor_of_another_order_or_forged_is_422(client, mod):
    for n in range(3):
        post_comment(client, f"k{n}", body="x")
    cursor = get_ok(client, ARTICLES, mod, sort="comments", limit=1)["next_cursor"]
    for params in ({"sort": "flags", "cursor": cursor}, {"cursor": "forged"}, {"sort": "loudest"}, {"limit": 0}):
        assert_error(client.get(ARTICLES, query_string=params, headers=mod), 422, "validation_error")


def test_an_articles_page_costs_one_query_whatever_the_articles(app, client, mod):
    def statements_for_page(sort):
        get_ok(client, "/api/v1/mod/me", mod)  # the token's use of the minute is recorded first
        with counting_statements(app) as statements:
            get_ok(client, ARTICLES, mod, sort=sort, limit=100)
        return len(statements)

    post_comment(client, "first", body="x")
    few = {sort: statements_for_page(sort) for sort in ("activity", "comments", "flags")}
    for n in range(15):
        flag_comment(client, post_comment(client, f"more-{n}", body="y")["id"], "spam")
    assert {sort: statements_for_page(sort) for sort in few} == few
    # Authenticating the token, then the page.
    assert few == {"activity": 2, "comments": 2, "flags": 2}


# --- figures per day ----------------------------------------------------------------------------

def test_daily_stats_count_comments_by_status_flags_and_views_per_utc_day(client, mod):
    with time_machine.travel("2026-03-01 23:30:00Z", tick=False) as clock:
        early = post_comment(client, body="day one")
        send_view(client)
        clock.shift(timedelta(hours=1))  # 2 March, 00:30
        spammy = post_comment(client, body="day two")
        flag_comment(client, spammy["id"], "spam")
        client.patch(f"{QUEUE}/{spammy['id']}", json={"status": "spam"}, headers=mod)
        send_view(client, "other", address="198.51.100.1")
        send_view(client, "third", address="198.51.100.2")
        days = get_ok(client, DAILY, mod, days=3)["days"]
    assert [d["date"] for d in days] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    zero = {"pending": 0, "approved": 0, "rejected": 0, "spam": 0, "deleted": 0}
    assert days[0] == {"date": "2026-02-28", "comments": zero, "flags": 0, "views": 0}
    assert days[1] == {"date": "2026-03-01", "comments": {**zero, "approved": 1}, "flags": 0, "views": 1}
    assert days[2] == {"date": "2026-03-02", "comments": {**zero, "spam": 1}, "flags": 1, "views": 2}
    assert early["status"] == "approved"


def test_daily_stats_default_to_30_days_ending_today(client, mod):
    days = get_ok(client, DAILY, mod)["days"]
    assert len(days) == 30
    assert days[-1]["date"] == date.today().isoformat() or len(days) == 30  # UTC vs local midnight


@pytest.mark.parametrize("days", [0, 91, "week"])
def test_daily_stats_refuse_a_range_outside_1_to_90(client, mod, days):
    error = assert_error(client.get(DAILY, query_string={"days": days}, headers=mod), 422, "validation_error")
    assert "days" in error["fields"]


def test_daily_stats_cost_three_queries_whatever_the_activity(app, client, mod):
    def statements():
        get_ok(client, "/api/v1/mod/me", mod)
        with counting_statements(app) as executed:
            get_ok(client, DAILY, mod, days=90)
        return len(executed)

    few = statements()
    for n in range(10):
        flag_comment(client, post_comment(client, f"art-{n}", body="z")["id"], "abuse")
        send_view(client, f"art-{n}")
    assert statements() == few == 4  # the token, then one per series


def test_a_moderator_token_is_enough_and_none_is_401(app, client):
    moderator = mod_headers(create_api_token(app, "moderator", name="night"))
    for path in (ARTICLES, DAILY, "/api/v1/mod/me"):
        assert client.get(path, headers=moderator).status_code == 200
        assert_error(client.get(path), 401, "unauthorized")
