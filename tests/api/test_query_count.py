"""A thread page costs the same, small number of SQL statements whatever the thread size; posting a comment a few."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Comment, CommentStatus
from engagement.services.articles import ensure_article
from tests.factories import post_comment
from tests.sql import counting_statements


def _seed_thread(app, key: str, total: int) -> None:
    """``total`` approved comments: a third top-level, the rest replies nested under them."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        article = ensure_article(db.session, key, now)
        tops: list[Comment] = []
        for n in range(total):
            parent = tops[n % len(tops)] if n % 3 and tops else None
            comment = Comment(
                article_id=article.id,
                parent_id=parent.id if parent else None,
                root_id=parent.id if parent else None,
                depth=1 if parent else 0,
                status=CommentStatus.APPROVED,
                body_source=f"comment {n}",
                body_html=f"<p>comment {n}</p>",
                avatar_seed="0" * 16,
                reader_hash="r" * 64,
                address_hash="a" * 64,
                created_at=now,
                score=n % 5,
            )
            db.session.add(comment)
            if parent is None:
                db.session.flush()
                tops.append(comment)
        db.session.commit()


@pytest.fixture
def app(app_factory):
    # Rendered-response cache off: every read below builds its page from the database.
    return app_factory(RENDERED_CACHE_ENTRIES=0)


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_thread_page_statement_count_does_not_grow_with_the_thread(app, client, sort):
    _seed_thread(app, "small", 10)
    _seed_thread(app, "large", 1000)
    counts = {}
    for key in ("small", "large"):
        client.get(f"/api/v1/articles/{key}/comments?sort={sort}")  # warm the pool
        with counting_statements(app) as statements:
            response = client.get(f"/api/v1/articles/{key}/comments?sort={sort}&limit=50")
        assert response.status_code == 200
        counts[key] = len(statements)
    assert counts["small"] == counts["large"], counts
    assert counts["large"] <= 4, counts


def test_thread_pages_of_any_length_send_the_same_statements(app, client):
    """The page's threads are bound as one list: the statements' text (and so their
    compiled, cached form) does not depend on how many threads the page shows."""
    _seed_thread(app, "large", 300)
    texts = {}
    for limit in (5, 50):
        with counting_statements(app) as statements:
            assert client.get(f"/api/v1/articles/large/comments?limit={limit}").status_code == 200
        texts[limit] = statements
    assert texts[5] == texts[50]


def test_the_large_thread_page_really_carries_its_replies(app, client):
    _seed_thread(app, "large", 1000)
    page = client.get("/api/v1/articles/large/comments?limit=100").get_json()
    assert len(page["comments"]) == 100
    assert sum(len(c["replies"]) for c in page["comments"]) > 100


@pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
def test_a_page_around_a_comment_costs_two_statements_more_whatever_the_thread_size(app, client, sort):
    _seed_thread(app, "small", 10)
    _seed_thread(app, "large", 1000)
    with app.app_context():
        # A reply in a thread far from either end of the large thread, in every order
        # (its top-level comment has the lowest score).
        roots = db.session.scalars(
            sa.select(Comment.id).where(Comment.depth == 0, Comment.score == 0).order_by(Comment.id)
        ).all()
        middle = roots[len(roots) // 2]
        deep = db.session.scalar(sa.select(sa.func.max(Comment.id)).where(Comment.root_id == middle))
    counts = {}
    for key, around in (("small", 1), ("large", deep)):
        client.get(f"/api/v1/articles/{key}/comments?sort={sort}")  # warm the pool
        with counting_statements(app) as plain:
            client.get(f"/api/v1/articles/{key}/comments?sort={sort}&limit=20")
        with counting_statements(app) as statements:
            response = client.get(f"/api/v1/articles/{key}/comments?sort={sort}&limit=20&around={around}")
        assert response.status_code == 200
        counts[key] = len(statements) - len(plain)
    assert response.get_json()["has_earlier"] is True
    assert counts == {"small": 1, "large": 2}, counts


def test_posting_a_comment_asks_the_policy_its_questions_in_one_statement(app, client):
    # A ban in force, the same body a moment ago and the blocklist's version are each an
    # indexed lookup: one statement asks all three (on PostgreSQL, one round trip).
    post_comment(client, "posting", "The first comment warms every cache.")
    with counting_statements(app) as statements:
        post_comment(client, "posting", "The second one is measured.")
    asking = [statement for statement in statements if "bans" in statement or "site_settings" in statement]
    assert len(asking) == 1, statements
    assert all(part in asking[0] for part in ("FROM bans", "body_source", "site_settings")), asking[0]
    inserts = [statement.split("(")[0].split()[-1] for statement in statements if statement.startswith("INSERT")]
    # The event goes with the commit, after the comment and with the article's counters.
    assert inserts[0] == "comments" and "events" in inserts[1:], statements
    assert len(statements) <= 8, statements
