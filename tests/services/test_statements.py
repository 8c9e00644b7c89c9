"""``run`` and ``insert_loaded``.

``run`` hands a statement it has seen before straight to the driver: its answers,
types, errors and transaction must be what SQLAlchemy's own path gives. ``insert_loaded``:
a new row inserted with one statement reads and changes like a loaded one.
"""
from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import pytest
import sqlalchemy as sa

from engagement import extensions
from engagement.extensions import db
from engagement.models import Article, Comment, CommentStatus, ViewMark
from engagement.services import statements
from engagement.services.statements import Rows, insert_loaded, run
from tests.sql import counting_statements

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


# --- run: the driver's path ---------------------------------------------------------------

_COMMENTS = Comment.__table__
_MARKS = ViewMark.__table__
# Typed both ways: an aware datetime and an enum bound, an enum, a boolean and a datetime read.
_COMMENTS_SINCE = (
    sa.select(_COMMENTS.c.id, _COMMENTS.c.status, _COMMENTS.c.pinned, _COMMENTS.c.created_at)
    .where(_COMMENTS.c.article_id == sa.bindparam("article_id"), _COMMENTS.c.created_at >= sa.bindparam("since"),
           _COMMENTS.c.status == sa.bindparam("status", type_=_COMMENTS.c.status.type))
    .order_by(_COMMENTS.c.id)
)
_PIN = sa.update(_COMMENTS).where(_COMMENTS.c.article_id == sa.bindparam("pinned_article")).values(pinned=True)
_MARK = sa.insert(_MARKS).returning(_MARKS.c.id, _MARKS.c.expires_at)


def _answers(result) -> list[tuple]:
    return [tuple(row) for row in result]


def _add_comments(session, article_id: int, count: int) -> None:
    for minute in range(count):
        insert_loaded(session, new_comment(article_id, created_at=NOW + timedelta(minutes=minute)))


def test_a_statement_run_again_goes_to_the_driver_and_answers_the_same(session, article_id):
    _add_comments(session, article_id, 3)
    parameters = {"article_id": article_id, "since": NOW + timedelta(minutes=1), "status": CommentStatus.APPROVED}
    first = run(session, _COMMENTS_SINCE, parameters)
    assert not isinstance(first, Rows)  # the first run is SQLAlchemy's
    expected = _answers(first)
    again = run(session, _COMMENTS_SINCE, parameters)
    assert isinstance(again, Rows)
    assert _answers(again) == expected and len(expected) == 2
    row = again.first()
    assert row.status is CommentStatus.APPROVED and row.pinned is False
    assert row.created_at == NOW + timedelta(minutes=1) and row.created_at.tzinfo is not None
    ids = [identifier for identifier, *_ in expected]
    assert run(session, _COMMENTS_SINCE, parameters).scalars().all() == ids
    assert run(session, _COMMENTS_SINCE, parameters).scalar() == ids[0]
    with pytest.raises(sa.exc.MultipleResultsFound):
        run(session, _COMMENTS_SINCE, parameters).one()
    none_since = {**parameters, "since": NOW + timedelta(days=1)}
    assert run(session, _COMMENTS_SINCE, none_since).first() is None
    with pytest.raises(sa.exc.NoResultFound):
        run(session, _COMMENTS_SINCE, none_since).scalar_one()


class CommentSince(NamedTuple):
    id: int
    status: CommentStatus
    pinned: bool
    created_at: datetime


def test_rows_made_as_the_callers_type_on_either_path(app, session, article_id):
    """With ``row``, SQLAlchemy's path (a statement's first run, a connection with a
    listener) and the driver's answer the same rows, each made once as the caller's type."""
    _add_comments(session, article_id, 3)
    parameters = {"article_id": article_id, "since": NOW + timedelta(minutes=1), "status": CommentStatus.APPROVED}
    expected = _answers(run(session, _COMMENTS_SINCE_AS_ROWS, parameters))  # SQLAlchemy's path, no row type
    first = run(session, _COMMENTS_SINCE_AS_ROWS, parameters, row=CommentSince._make)  # planned: the driver's
    with counting_statements(app):
        watched = run(session, _COMMENTS_SINCE_AS_ROWS, parameters, row=CommentSince._make)  # SQLAlchemy's
    for answer in (first, watched):
        assert isinstance(answer, Rows)
        rows = answer.all()
        assert [type(row) for row in rows] == [CommentSince, CommentSince]
        assert [tuple(row) for row in rows] == expected
        assert rows[0].status is CommentStatus.APPROVED and rows[0].created_at == NOW + timedelta(minutes=1)
    assert run(session, _COMMENTS_SINCE_AS_ROWS, parameters, row=CommentSince._make).first() == CommentSince(*expected[0])


_COMMENTS_SINCE_AS_ROWS = _COMMENTS_SINCE.limit(10)  # a statement of its own: its first run is SQLAlchemy's


def test_writes_on_the_driver_count_rows_and_belong_to_the_callers_transaction(session, article_id):
    _add_comments(session, article_id, 2)
    session.commit()
    assert run(session, _PIN, {"pinned_article": article_id}).rowcount == 2
    assert isinstance(run(session, _PIN, {"pinned_article": article_id}), Rows)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).where(_COMMENTS.c.pinned)) == 0
    run(session, _PIN, {"pinned_article": article_id})
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).where(_COMMENTS.c.pinned)) == 2


def test_a_connection_not_yet_in_a_transaction_commits_what_the_driver_wrote(app, session, article_id):
    _add_comments(session, article_id, 2)
    session.commit()
    with db.engine.connect() as connection:
        run(connection, _PIN, {"pinned_article": article_id})  # seen once
        connection.rollback()
        assert not connection.in_transaction()
        assert isinstance(run(connection, _PIN, {"pinned_article": article_id}), Rows)
        assert connection.in_transaction()
        connection.commit()
    with db.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).where(_COMMENTS.c.pinned)).scalar() == 2


def test_driver_errors_are_sqlalchemys(session, article_id):
    mark = {"article_id": article_id, "visitor_hash": "w" * 64, "expires_at": NOW}
    run(session, _MARK, mark)
    identifier, expires_at = run(session, _MARK, {**mark, "visitor_hash": "x" * 64}).one()
    assert expires_at == NOW
    with pytest.raises(sa.exc.IntegrityError):  # (article_id, visitor_hash) is unique
        run(session, _MARK, mark)
    session.rollback()
    stored = run(session, _MARK, {**mark, "expires_at": NOW + timedelta(hours=1)}).one()
    assert stored.expires_at == NOW + timedelta(hours=1)


def test_with_a_statement_listener_sqlalchemys_path_runs(app, session, article_id):
    parameters = {"pinned_article": article_id}
    run(session, _PIN, parameters)
    assert isinstance(run(session, _PIN, parameters), Rows)
    with counting_statements(app) as seen:
        result = run(session, _PIN, parameters)
    assert not isinstance(result, Rows) and len(seen) == 1 and seen[0].lstrip().upper().startswith("UPDATE")
    session.rollback()


_CALLS = iter(range(1, 100))
_COMPUTED_EACH_TIME = sa.select(sa.bindparam("computed", callable_=lambda: next(_CALLS), type_=sa.Integer))


def test_a_value_computed_at_execution_is_computed_at_each_run(session):
    assert [run(session, _COMPUTED_EACH_TIME).scalar() for _ in range(3)] == [1, 2, 3]


_WEIGHTED_SCORES = sa.select((_COMMENTS.c.score * sa.bindparam("weight", type_=sa.Float)).label("weighted")).where(
    _COMMENTS.c.article_id == sa.bindparam("article_id")
)


def test_a_computed_number_run_again_answers_the_same(session, article_id):
    """A float column's processing may depend on the type the database reports for it
    (psycopg's): such a statement still answers what SQLAlchemy's path does, every time."""
    for score in (2, -1):
        insert_loaded(session, new_comment(article_id, score=score))
    answers = [run(session, _WEIGHTED_SCORES, {"article_id": article_id, "weight": 1.5}).all() for _ in range(3)]
    assert [sorted(value for value, in rows) for rows in answers] == [[-1.5, 3.0]] * 3
    assert all(type(value) is float for rows in answers for value, in rows)


_TWO_COLUMNS = sa.text("SELECT 1 AS one, 2 AS two")


def test_a_text_statement_run_again_answers_every_column(session):
    assert [tuple(run(session, _TWO_COLUMNS).one()) for _ in range(3)] == [(1, 2)] * 3


def test_statements_built_for_one_call_are_not_kept(session, article_id):
    def run_one_built_now() -> None:
        statement = sa.select(_COMMENTS.c.id).where(_COMMENTS.c.article_id == sa.bindparam("article_id"))
        run(session, statement, {"article_id": article_id})
        assert isinstance(run(session, statement, {"article_id": article_id}), Rows)  # planned

    gc.collect()
    kept = len(statements._PLANS)
    for _ in range(50):
        run_one_built_now()
    gc.collect()
    # SQLAlchemy's compiled cache keeps the first of these statements alive; the others went.
    assert len(statements._PLANS) <= kept + 1


@pytest.mark.parametrize("wanted", [["in-1", "in-3"], [], ['in-"quoted"', "in-back\\slash", "in-ünïcode", "in-none"]])
def test_in_values_finds_exactly_the_values_listed(session, wanted):
    stored = ["in-1", "in-2", "in-3", 'in-"quoted"', "in-back\\slash", "in-ünïcode"]
    session.add_all(Article(key=key, created_at=NOW, updated_at=NOW) for key in stored)
    session.commit()
    articles = Article.__table__
    statement = sa.select(articles.c.key).where(
        statements.in_values(statements.dialect_name(session), articles.c.key, "keys")
    )
    for _ in range(2):  # SQLAlchemy's path, then the driver's
        found = run(session, statement, {"keys": wanted}).scalars().all()
        assert sorted(found) == sorted(set(wanted) & set(stored))


# --- writes at commit ----------------------------------------------------------------------

_ARTICLES = Article.__table__
_ADD_TO_VERSION = (
    sa.update(_ARTICLES).where(_ARTICLES.c.id == sa.bindparam("article_id"))
    .values(version=_ARTICLES.c.version + sa.bindparam("added"))
)
_DOUBLE_VERSION = (
    sa.update(_ARTICLES).where(_ARTICLES.c.id == sa.bindparam("article_id")).values(version=_ARTICLES.c.version * 2)
)
_SCORE_COMMENTS = (
    sa.update(_COMMENTS).where(_COMMENTS.c.article_id == sa.bindparam("scored_article")).values(score=7)
)
_TAKE_KEY = sa.update(_ARTICLES).where(_ARTICLES.c.id == sa.bindparam("article_id")).values(key=sa.bindparam("new_key"))


def _version(session, article_id: int) -> int:
    return session.scalar(sa.select(_ARTICLES.c.version).where(_ARTICLES.c.id == article_id))


def test_writes_at_commit_run_when_the_session_commits_in_order_after_its_other_writes(session, article_id):
    version = _version(session, article_id)
    statements.at_commit(session, _ADD_TO_VERSION, {"article_id": article_id, "added": 5})
    statements.at_commit(session, _DOUBLE_VERSION, {"article_id": article_id})
    statements.at_commit(session, _SCORE_COMMENTS, {"scored_article": article_id})
    session.add(new_comment(article_id))  # pending: flushed before the writes that follow it
    assert _version(session, article_id) == version  # not yet
    session.commit()
    assert _version(session, article_id) == (version + 5) * 2  # in the order queued
    assert session.scalars(sa.select(_COMMENTS.c.score)).all() == [7]
    session.commit()  # run once
    assert _version(session, article_id) == (version + 5) * 2


def test_a_rollback_drops_the_writes_at_commit(session, article_id):
    version = _version(session, article_id)
    statements.at_commit(session, _ADD_TO_VERSION, {"article_id": article_id, "added": 5})
    session.rollback()
    session.add(new_comment(article_id))
    session.commit()
    assert _version(session, article_id) == version


@pytest.mark.parametrize("failing", [False, True])
def test_the_requests_commit_sends_the_writes_at_commit_and_a_failure_undoes_it_all(app, article_id, failing):
    """``finish_request_transaction`` commits the writes queued for it (on PostgreSQL sent in
    one pipeline with the COMMIT); when one fails, the commit raises and the rollback
    that follows leaves nothing of the request stored."""
    with app.app_context():
        taken = Article(key="taken", created_at=NOW, updated_at=NOW)
        db.session.add(taken)
        db.session.commit()
        version = _version(db.session, article_id)
    with app.test_request_context("/", method="POST"):
        session = db.session
        insert_loaded(session, new_comment(article_id))
        statements.at_commit(session, _ADD_TO_VERSION, {"article_id": article_id, "added": 3})
        if failing:
            statements.at_commit(session, _TAKE_KEY, {"article_id": article_id, "new_key": "taken"})  # unique
            with pytest.raises(sa.exc.IntegrityError):
                extensions.finish_request_transaction(commit=True)
            extensions.finish_request_transaction(commit=False)
        else:
            extensions.finish_request_transaction(commit=True)
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(_COMMENTS))
        assert (stored, _version(db.session, article_id)) == ((0, version) if failing else (1, version + 3))
