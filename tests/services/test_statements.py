"""``insert_loaded``: a new row inserted with one statement reads and changes like a loaded one."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Article, Comment, CommentStatus
from engagement.services.statements import insert_loaded

NOW = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session


def new_comment(article_id: int, **fields) -> Comment:
    values = dict(
        article_id=article_id, status=CommentStatus.APPROVED, body_source="Hello", body_html="<p>Hello</p>",
        avatar_seed="seed", reader_hash="r" * 64, address_hash="a" * 64, created_at=NOW,
    )
    return Comment(**(values | fields))


@pytest.fixture
def article_id(session) -> int:
    article = Article(key="statements", created_at=NOW, updated_at=NOW)
    session.add(article)
    session.commit()
    return article.id


def test_the_row_is_stored_with_the_python_defaults_set_on_the_object_too(session, article_id):
    comment = new_comment(article_id)
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        insert_loaded(session, comment)
        # Everything is on the object already: reading it runs no query.
        assert (comment.score, comment.pinned, comment.revision, comment.edited_at) == (0, False, 1, None)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT")
    session.commit()
    stored = session.execute(
        sa.select(Comment.__table__).where(Comment.__table__.c.id == comment.id)
    ).mappings().one()
    assert (stored["score"], stored["pinned"], stored["revision"], stored["reply_count"]) == (0, False, 1, 0)
    assert (stored["body_source"], stored["status"]) == ("Hello", CommentStatus.APPROVED)


def test_the_object_belongs_to_the_session_and_later_changes_update_it(session, article_id):
    comment = new_comment(article_id)
    insert_loaded(session, comment)
    assert comment in session and session.get(Comment, comment.id) is comment
    comment.body_html = "<p>Changed</p>"
    session.commit()  # an UPDATE: a second INSERT would break the primary key
    session.expunge_all()
    assert session.get(Comment, comment.id).body_html == "<p>Changed</p>"
    assert session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1


def test_values_given_win_over_defaults(session, article_id):
    comment = new_comment(article_id, depth=2, verified=True)
    insert_loaded(session, comment)
    session.commit()
    session.expunge_all()
    stored = session.get(Comment, comment.id)
    assert (stored.depth, stored.verified) == (2, True)
