"""The moderation queue: filters, search, keyset pages and the moderator's fields."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from tests.factories import (
    assert_error,
    create_api_token,
    established_reader,
    flag_comment,
    mint_reader,
    mod_headers,
    network_address,
    post_comment,
    reader_headers,
)

QUEUE = "/api/v1/mod/comments"



def queue(client, mod, **params):
    response = client.get(QUEUE, query_string=params, headers=mod)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page):
    return [comment["id"] for comment in page["comments"]]


def set_status(client, mod, comment_id, status):
    response = client.patch(f"{QUEUE}/{comment_id}", json={"status": status}, headers=mod)
    assert response.status_code == 200, response.get_json()


def test_default_is_pending_newest_first_with_why_it_was_held(app_factory):
    app = app_factory(MODERATION="pre")
    client = app.test_client()
    mod = mod_headers(create_api_token(app))
    first = post_comment(client, body="first", author_email="ana@example.com", author_name="Ana")
    second = post_comment(client, body="second")

    page = queue(client, mod)
    assert ids(page) == [second["id"], first["id"]]
    assert page["next_cursor"] is None
    held = page["comments"][1]
    assert held["status"] == "pending"
    assert held["moderation_reason"] == "premoderation"
    assert held["author_email"] == "ana@example.com"
    assert held["author"]["name"] == "Ana"
    assert held["body_html"] == "<p>first</p>"
    assert held["flags"] == {"open": 0, "reasons": {}, "notes": []}
    assert held["article"] == "an-article" and held["replies"] == []


def test_each_status_lists_only_its_comments(client, mod):
    approved = post_comment(client, body="approved")
    rejected = post_comment(client, body="rejected")
    set_status(client, mod, rejected["id"], "rejected")
    spam = post_comment(client, body="spam")
    set_status(client, mod, spam["id"], "spam")
    honeypot = post_comment(client, body="bot", website="http://bot.example")
    deleted = post_comment(client, body="withdrawn **words**")
    client.delete(f"/api/v1/comments/{deleted['id']}", headers={"X-Edit-Token": deleted["edit_token"]})
    held = post_comment(client, body="held")
    set_status(client, mod, held["id"], "pending")

    assert ids(queue(client, mod, status="approved")) == [approved["id"]]
    assert ids(queue(client, mod, status="rejected")) == [rejected["id"]]
    assert ids(queue(client, mod, status="spam")) == [honeypot["id"], spam["id"]]
    assert ids(queue(client, mod)) == [held["id"]]
    [withdrawn] = queue(client, mod, status="deleted")["comments"]
    assert withdrawn["id"] == deleted["id"] and withdrawn["deleted"] is True
    # moderators still see what was written
    assert withdrawn["body_html"] == "<p>withdrawn <strong>words</strong></p>"
    assert withdrawn["author"] is not None


def test_flagged_lists_open_flags_whatever_the_status_with_reasons_and_notes(client, mod):
    held = post_comment(client, body="reported three times")
    public = post_comment(client, body="reported once")
    post_comment(client, body="nobody minds")
    independent = [  # established readers on three networks: enough to hold it
        {"headers": reader_headers(established_reader(client)), "address": network_address(n)} for n in range(3)
    ]
    flag_comment(client, held["id"], "abuse", note="Rude to Ana", **independent[0])
    flag_comment(client, held["id"], "abuse", **independent[1])
    flag_comment(client, held["id"], "off_topic", note="Not about this", **independent[2])
    flag_comment(client, public["id"], "spam", headers=reader_headers(mint_reader(client)))

    page = queue(client, mod, status="flagged")
    assert ids(page) == [public["id"], held["id"]]
    reported_once, reported_thrice = page["comments"]
    assert reported_once["status"] == "approved"  # reports on published comments reach moderators
    assert reported_once["flags"] == {"open": 1, "reasons": {"spam": 1}, "notes": []}
    assert reported_thrice["status"] == "pending"
    assert reported_thrice["moderation_reason"] == "flagged"
    assert reported_thrice["flags"]["open"] == 3
    assert reported_thrice["flags"]["reasons"] == {"abuse": 2, "off_topic": 1}
    assert [(n["reason"], n["note"]) for n in reported_thrice["flags"]["notes"]] == [
        ("off_topic", "Not about this"), ("abuse", "Rude to Ana"),
    ]
    assert all(n["created_at"].endswith("Z") for n in reported_thrice["flags"]["notes"])
    # the held comment is in the pending queue too, with the same flags
    [pending] = queue(client, mod)["comments"]
    assert pending["id"] == held["id"] and pending["flags"] == reported_thrice["flags"]


def test_only_the_ten_latest_notes_are_shown(app_factory):
    app = app_factory(FLAG_THRESHOLD=100)
    client, mod = app.test_client(), mod_headers(create_api_token(app))
    comment = post_comment(client, body="much discussed")
    for n in range(12):
        flag_comment(client, comment["id"], "other", headers=reader_headers(mint_reader(client)), note=f"note {n}")
    [flagged] = queue(client, mod, status="flagged")["comments"]
    assert flagged["flags"]["open"] == 12
    assert [n["note"] for n in flagged["flags"]["notes"]] == [f"note {n}" for n in range(11, 1, -1)]


def test_article_filter_and_unknown_or_invalid_article(client, mod):
    mine = post_comment(client, "article-a", body="on a")
    post_comment(client, "article-b", body="on b")
    assert ids(queue(client, mod, status="approved", article="article-a")) == [mine["id"]]
    assert queue(client, mod, status="approved", article="nobody-wrote-here")["comments"] == []
    error = assert_error(client.get(QUEUE, query_string={"article": "-bad key"}, headers=mod), 422, "validation_error")
    assert "article" in error["fields"]


def test_text_search_is_case_insensitive_over_body_and_author(client, mod):
    in_body = post_comment(client, body="The MINISTER spoke")
    in_name = post_comment(client, body="unrelated", author_name="Minister Fan")
    post_comment(client, body="something else")
    assert ids(queue(client, mod, status="approved", q="minister")) == [in_name["id"], in_body["id"]]
    assert ids(queue(client, mod, status="approved", q="spoke")) == [in_body["id"]]


def test_text_search_treats_like_wildcards_literally(client, mod):
    percent = post_comment(client, body="prices rose 100% overnight")
    post_comment(client, body="prices rose 1000 overnight")
    underscore = post_comment(client, body="see file_name")
    post_comment(client, body="see filename")
    assert ids(queue(client, mod, status="approved", q="100%")) == [percent["id"]]
    assert ids(queue(client, mod, status="approved", q="file_n")) == [underscore["id"]]
    assert ids(queue(client, mod, status="approved", q="%")) == [percent["id"]]


def test_search_text_with_a_nul_byte_is_harmless(client, mod):
    comment = post_comment(client, body="needle in a haystack")
    assert ids(queue(client, mod, status="approved", q="need\x00le")) == [comment["id"]]


def test_cursor_walk_returns_each_comment_once_newest_first(client, mod):
    created = [post_comment(client, body=f"comment {n}")["id"] for n in range(7)]
    seen, cursor = [], None
    while True:
        params = {"status": "approved", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = queue(client, mod, **params)
        seen.extend(ids(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
        post_comment(client, body=f"arriving meanwhile {len(seen)}")  # newer: never on a later page
    assert seen == list(reversed(created))


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "published"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x" * 201}, "q"),
        ({"article": "news-1\n"}, "article"),
    ],
)
def test_bad_query_parameters_are_422(client, mod, params, field):
    error = assert_error(client.get(QUEUE, query_string=params, headers=mod), 422, "validation_error")
    assert field in error["fields"]


def test_a_page_costs_the_same_number_of_queries_however_many_flagged_comments(app, client, mod):
    def statements_for_page():
        with app.app_context():
            engine = db.engine
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        sa.event.listen(engine, "before_cursor_execute", counter)
        try:
            queue(client, mod, status="flagged", limit=100)
        finally:
            sa.event.remove(engine, "before_cursor_execute", counter)
        return count

    def add_flagged(n):
        for i in range(n):
            comment = post_comment(client, body=f"flag me {i} {n}")
            flag_comment(client, comment["id"], "spam", note=f"note {i}")

    add_flagged(2)
    queue(client, mod)  # the token's first use of the minute is recorded: not part of the page
    few = statements_for_page()
    add_flagged(20)
    assert len(queue(client, mod, status="flagged", limit=100)["comments"]) == 22
    assert statements_for_page() == few
