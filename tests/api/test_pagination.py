"""Keyset pagination over top-level comments: every comment exactly once, in every order."""
from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from engagement.clock import utcnow
from engagement.extensions import db
from engagement.models import Article, Comment, CommentStatus, ModerationMode
from engagement.services.comments import change_status
from tests.factories import assert_error, list_comments, post_comment

ARTICLE = "long-thread"
TOTAL = 137


def _walk(client, sort, limit=10, between_pages=lambda: None):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"sort": sort, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = list_comments(client, ARTICLE, **params)
        assert len(page["comments"]) <= limit
        seen.extend(c["id"] for c in page["comments"])
        cursor = page["next_cursor"]
        pages += 1
        assert pages < 100, "pagination does not terminate"
        if cursor is None:
            return seen
        between_pages()


@pytest.fixture
def thread(app, client):
    ids = [post_comment(client, ARTICLE, body=f"comment {n}")["id"] for n in range(TOTAL)]
    with app.app_context():
        # Varied scores with many ties, so `top` has to break ties by id.
        db.session.execute(sa.update(Comment).values(score=Comment.id % 7))
        db.session.commit()
    return ids


def _expected_order(app, ids, sort):
    with app.app_context():
        scores = dict(db.session.execute(sa.select(Comment.id, Comment.score).where(Comment.id.in_(ids))).all())
    if sort == "oldest":
        return sorted(ids)
    if sort == "newest":
        return sorted(ids, reverse=True)
    return sorted(ids, key=lambda i: (-scores[i], -i))  # equal scores: newer first


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_walk_returns_each_comment_once_in_order(app, client, thread, sort):
    seen = _walk(client, sort)
    assert seen == _expected_order(app, thread, sort)
    assert len(seen) == TOTAL


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_new_comments_between_pages_cause_no_repeats_or_gaps(app, client, thread, sort):
    counter = itertools.count()
    seen = _walk(client, sort, between_pages=lambda: post_comment(client, ARTICLE, body=f"late {next(counter)}"))
    assert len(seen) == len(set(seen)), "a comment was repeated"
    assert set(thread) <= set(seen), "a comment was skipped"
    originals = [i for i in seen if i in set(thread)]
    assert originals == _expected_order(app, thread, sort)


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_approvals_between_pages_cause_no_repeats_or_gaps(app, client, thread, sort):
    with app.app_context():
        db.session.execute(sa.update(Article).where(Article.key == ARTICLE).values(moderation=ModerationMode.PRE))
        db.session.commit()
    held = [post_comment(client, ARTICLE, body=f"held {n}")["id"] for n in range(12)]
    pending = iter(held)

    def approve_one():
        with app.app_context():
            comment_id = next(pending, None)
            if comment_id is not None:
                change_status(db.session, db.session.get(Comment, comment_id), CommentStatus.APPROVED, now=utcnow())
                db.session.commit()

    seen = _walk(client, sort, between_pages=approve_one)
    assert len(seen) == len(set(seen))
    assert set(thread) <= set(seen)


def test_pinned_comments_come_first_and_never_repeat(app, client, thread):
    pinned = [thread[50], thread[120]]
    with app.app_context():
        db.session.execute(sa.update(Comment).where(Comment.id.in_(pinned)).values(pinned=True))
        db.session.commit()
    for sort in ("oldest", "newest", "top"):
        first = list_comments(client, ARTICLE, sort=sort, limit=10)["comments"]
        assert {c["id"] for c in first[:2]} == set(pinned)
        assert all(c["pinned"] for c in first[:2]) and not any(c["pinned"] for c in first[2:])
        seen = _walk(client, sort)
        assert len(seen) == TOTAL == len(set(seen))


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"sort": "best"},
        {"cursor": "not-a-cursor"},
        {"cursor": "x" * 501},
    ],
)
def test_bad_query_parameters_are_422(client, params):
    response = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string=params)
    assert_error(response, 422, "validation_error")


def test_cursor_from_another_sort_is_rejected(client, thread):
    cursor = list_comments(client, ARTICLE, sort="oldest", limit=5)["next_cursor"]
    response = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string={"sort": "top", "cursor": cursor})
    assert "cursor" in assert_error(response, 422, "validation_error")["fields"]


def test_tampered_cursor_is_rejected(client, thread):
    cursor = list_comments(client, ARTICLE, limit=5)["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = client.get(f"/api/v1/articles/{ARTICLE}/comments", query_string={"cursor": tampered})
    assert_error(response, 422, "validation_error")


def test_default_limit_is_50(client, thread):
    page = list_comments(client, ARTICLE)
    assert len(page["comments"]) == 50 and page["next_cursor"]
