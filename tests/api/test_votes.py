"""Comment votes: one per reader, exact counters on change and withdrawal, and `top` sorting."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from engagement.extensions import db
from engagement.models import Article, CommentVote
from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    browser_headers,
    list_comments,
    mint_reader,
    post_comment,
    vote,
)
from tests.sql import counting_statements


@pytest.fixture
def comment(client):
    """A public comment by its own author (not the voting readers below)."""
    return post_comment(client, headers=browser_headers(mint_reader(client)))


@pytest.fixture
def voter(client):
    return browser_headers(mint_reader(client))


def cast(client, comment_id, value, headers):
    """The raw response to a vote (for error cases)."""
    return client.post(f"/api/v1/comments/{comment_id}/vote", json={"value": value}, headers=headers)


def stored_votes(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(CommentVote))


def public_counters(client, comment_id):
    [listed] = [c for c in list_comments(client)["comments"] if c["id"] == comment_id]
    return {key: listed[key] for key in ("score", "upvotes", "downvotes")}


def test_upvote_and_repeat_change_nothing(client, comment, voter):
    expected = {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 1}
    assert vote(client, comment["id"], 1, headers=voter) == expected
    assert vote(client, comment["id"], 1, headers=voter) == expected
    assert vote(client, comment["id"], 1, headers=voter) == expected
    assert public_counters(client, comment["id"]) == {"score": 1, "upvotes": 1, "downvotes": 0}


def test_changing_a_vote_moves_the_counters_exactly(client, comment, voter):
    other = browser_headers(mint_reader(client))
    vote(client, comment["id"], 1, headers=other)

    assert vote(client, comment["id"], 1, headers=voter) == {"score": 2, "upvotes": 2, "downvotes": 0, "my_vote": 1}
    assert vote(client, comment["id"], -1, headers=voter) == {"score": 0, "upvotes": 1, "downvotes": 1, "my_vote": -1}
    assert vote(client, comment["id"], -1, headers=voter) == {"score": 0, "upvotes": 1, "downvotes": 1, "my_vote": -1}
    assert vote(client, comment["id"], 0, headers=voter) == {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 0}
    assert vote(client, comment["id"], 0, headers=voter) == {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 0}
    assert vote(client, comment["id"], -1, headers=voter) == {"score": 0, "upvotes": 1, "downvotes": 1, "my_vote": -1}
    assert vote(client, comment["id"], 1, headers=voter) == {"score": 2, "upvotes": 2, "downvotes": 0, "my_vote": 1}
    assert public_counters(client, comment["id"]) == {"score": 2, "upvotes": 2, "downvotes": 0}


def test_withdrawing_a_vote_never_cast_changes_nothing(client, comment, voter):
    assert vote(client, comment["id"], 0, headers=voter) == {"score": 0, "upvotes": 0, "downvotes": 0, "my_vote": 0}


def test_many_readers_add_up(client, comment):
    values = [1, 1, 1, -1, -1, 1, 0]
    for value in values:
        vote(client, comment["id"], value, headers=browser_headers(mint_reader(client)))
    assert public_counters(client, comment["id"]) == {"score": 2, "upvotes": 4, "downvotes": 2}


def test_a_vote_changes_its_comment_and_article_in_one_statement_on_postgresql(app, client, comment, voter,
                                                                              database_url):
    """Every vote on a comment updates its row and its article's, each locked until the
    commit: on PostgreSQL one statement changes both (SQLite has no UPDATE inside WITH: two)."""
    thread = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"
    thread_etag = client.get(thread).headers["ETag"]
    with counting_statements(app) as statements:
        state = vote(client, comment["id"], -1, headers=voter)
    assert state == {"score": -1, "upvotes": 0, "downvotes": 1, "my_vote": -1}
    writes = [statement for statement in statements if "UPDATE comments" in statement or "UPDATE articles" in statement]
    if database_url.startswith("postgresql"):
        assert len(writes) == 1 and "UPDATE comments" in writes[0] and "UPDATE articles" in writes[0]
    else:
        assert len(writes) == 2
    assert public_counters(client, comment["id"]) == {"score": -1, "upvotes": 0, "downvotes": 1}
    assert client.get(thread).headers["ETag"] != thread_etag  # the article's version moved with the vote


def test_a_first_vote_is_one_statement_on_postgresql(app, client, comment, voter, is_postgres):
    """The comment's read, the vote, its counters and its article's version: one round trip
    on PostgreSQL; changing the vote afterwards, two (the first vote finds the earlier one,
    then the vote flips)."""
    with counting_statements(app) as statements:
        assert vote(client, comment["id"], 1, headers=voter) == {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 1}
    if is_postgres:
        assert len(statements) == 1
    with counting_statements(app) as statements:
        assert vote(client, comment["id"], -1, headers=voter)["score"] == -1
    if is_postgres:
        assert len(statements) == 2
    assert stored_votes(app) == 1


def test_readers_without_token_vote_by_address_and_agent(client, comment):
    vote(client, comment["id"], 1, headers=browser_headers())
    state = vote(client, comment["id"], 1, headers=browser_headers())
    assert state["upvotes"] == 1
    state = vote(client, comment["id"], 1, headers=browser_headers(user_agent="Mozilla/5.0 Safari/605.1"))
    assert state["upvotes"] == 2


def test_voting_on_your_own_comment_is_forbidden(client):
    token = mint_reader(client)
    own = post_comment(client, headers=browser_headers(token))
    assert_error(cast(client, own["id"], 1, browser_headers(token)), 403, "forbidden")
    anonymous_own = post_comment(client, body="another", headers=browser_headers())
    assert_error(cast(client, anonymous_own["id"], -1, browser_headers()), 403, "forbidden")
    assert public_counters(client, own["id"]) == {"score": 0, "upvotes": 0, "downvotes": 0}


def test_unknown_comment_is_not_found(client, voter):
    for comment_id in (999999, 0, 99999999999):
        assert_error(cast(client, comment_id, 1, voter), 404, "not_found")


def test_held_comment_cannot_be_voted_on(app_factory):
    app = app_factory(MODERATION="pre")
    client = app.test_client()
    held = post_comment(client, headers=browser_headers(mint_reader(client)))
    assert held["status"] == "pending"
    voter = browser_headers(mint_reader(client))
    assert_error(cast(client, held["id"], 1, voter), 404, "not_found")
    assert stored_votes(app) == 0


def test_deleted_comment_cannot_be_voted_on(client, voter):
    posted = post_comment(client, headers=browser_headers(mint_reader(client)))
    response = client.delete(f"/api/v1/comments/{posted['id']}", headers={"X-Edit-Token": posted["edit_token"]})
    assert response.status_code == 204
    assert_error(cast(client, posted["id"], 1, voter), 404, "not_found")
    assert stored_votes(client.application) == 0


def test_closed_thread_refuses_votes(app, client, comment, voter):
    with app.app_context():
        db.session.execute(sa.update(Article).values(comments_closed=True))
        db.session.commit()
    assert_error(cast(client, comment["id"], 1, voter), 403, "comments_closed")
    assert stored_votes(app) == 0


def test_a_thread_closed_by_age_refuses_votes_from_the_moment_it_closes(app_factory):
    app = app_factory(AUTO_CLOSE_DAYS=7)
    client = app.test_client()
    with time_machine.travel("2026-03-01 09:00:00Z", tick=False) as clock:
        first = post_comment(client, headers=browser_headers(mint_reader(client)))
        clock.shift(timedelta(days=7))  # the last moment it is open
        assert vote(client, first["id"], 1, headers=browser_headers(mint_reader(client)))["score"] == 1
        clock.shift(timedelta(microseconds=1))
        assert_error(cast(client, first["id"], 1, browser_headers(mint_reader(client))), 403, "comments_closed")
    assert stored_votes(app) == 1
    assert public_counters(client, first["id"]) == {"score": 1, "upvotes": 1, "downvotes": 0}


@pytest.mark.parametrize("value", [True, False, "1", 1.0, 1.5, 2, -2, None, [1]])
def test_value_must_be_1_minus_1_or_0(client, comment, voter, value):
    error = assert_error(cast(client, comment["id"], value, voter), 422, "validation_error")
    assert "value" in error["fields"]


def test_missing_value_and_unknown_fields_are_rejected(client, comment, voter):
    url = f"/api/v1/comments/{comment['id']}/vote"
    assert_error(client.post(url, json={}, headers=voter), 422, "validation_error")
    assert_error(client.post(url, json={"value": 1, "extra": 1}, headers=voter), 422, "validation_error")
    form = {**voter, "Content-Type": "application/x-www-form-urlencoded"}
    assert_error(client.post(url, data="value=1", headers=form), 415, "unsupported_media_type")


def test_top_sort_follows_the_score_across_pages(client):
    author = browser_headers(mint_reader(client))
    ids = [post_comment(client, body=f"comment {n}", headers=author)["id"] for n in range(6)]
    voters = [browser_headers(mint_reader(client)) for _ in range(4)]
    # Scores: ids[0]=0, ids[1]=+3, ids[2]=-1, ids[3]=+3, ids[4]=+1, ids[5]=-2
    plan = {ids[1]: [1, 1, 1], ids[2]: [-1], ids[3]: [1, 1, 1, 0], ids[4]: [1, 1, -1], ids[5]: [-1, -1]}
    for comment_id, values in plan.items():
        for voter, value in zip(voters, values):
            vote(client, comment_id, value, headers=voter)

    walked, cursor = [], None
    while True:
        params = {"sort": "top", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = list_comments(client, **params)
        walked.extend((c["id"], c["score"]) for c in page["comments"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Highest score first; equal scores newest first.
    assert walked == [(ids[3], 3), (ids[1], 3), (ids[4], 1), (ids[0], 0), (ids[2], -1), (ids[5], -2)]

    # Votes change the order on the next read: -2 becomes +4.
    for voter in [voters[0], voters[1], *(browser_headers(mint_reader(client)) for _ in range(2))]:
        vote(client, ids[5], 1, headers=voter)
    assert [c["id"] for c in list_comments(client, sort="top", limit=1)["comments"]] == [ids[5]]
