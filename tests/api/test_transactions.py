"""Each request runs on one connection; writes are one transaction on it, and on SQLite
they take turns on one lock per process (reads never wait for it)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from engagement import extensions
from engagement.api.common import WRITE_LOCK
from engagement.extensions import EngagementSession, db
from engagement.services import comments
from tests.factories import (
    DEFAULT_ARTICLE,
    browser_headers,
    get_article,
    list_comments,
    mint_reader,
    post_comment,
    react,
    send_view,
    vote,
)
from tests.sql import engine_listening


class RecordingLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entered = 0
        self.held = False

    def __enter__(self) -> "RecordingLock":
        self._lock.acquire()
        self.entered += 1
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.held = False
        self._lock.release()


def test_sqlite_writes_hold_the_write_lock_and_reads_do_not(app, client, is_postgres):
    if is_postgres:
        assert WRITE_LOCK not in app.extensions  # PostgreSQL takes concurrent writers itself
        return
    lock = RecordingLock()
    app.extensions[WRITE_LOCK] = lock
    post_comment(client)
    assert (lock.entered, lock.held) == (1, False)
    list_comments(client)
    assert lock.entered == 1
    # A failing write releases it too.
    response = client.post("/api/v1/articles/an-article/comments", json={"body": "A thoughtful comment."})
    assert response.status_code == 409
    assert (lock.entered, lock.held) == (2, False)


@contextmanager
def autocommit_recorded(app: Flask) -> Iterator[list[bool]]:
    """Whether each statement the app sends runs in autocommit (PostgreSQL's driver)."""
    autocommit: list[bool] = []

    def record(connection, *_args):
        autocommit.append(connection.connection.driver_connection.autocommit)

    with engine_listening(app, "before_cursor_execute", record):
        yield autocommit


def test_postgresql_reads_run_without_a_transaction_and_writes_within_one(app, client, is_postgres):
    """On PostgreSQL a GET runs its statements in autocommit (no BEGIN/ROLLBACK round trips);
    a write runs them in one transaction."""
    if not is_postgres:
        return  # SQLite begins no transaction for reads anyway
    with autocommit_recorded(app) as autocommit:
        post_comment(client)
        assert autocommit and not any(autocommit)
        autocommit.clear()
        list_comments(client)
        assert autocommit and all(autocommit)
        autocommit.clear()
        post_comment(client, body="after a read, a write is transactional again")
        assert autocommit and not any(autocommit)


def test_postgresql_views_reactions_and_votes_commit_statement_by_statement(app_factory, is_postgres):
    """A view's, a reaction's and a vote's every write is one statement that stands alone:
    on PostgreSQL each commits by itself, holding the article's and the comment's row
    locks only while it runs; the counters still follow every change exactly."""
    if not is_postgres:
        return  # SQLite runs them in one transaction (its writers take turns anyway)
    site = "https://news.example"
    client = app_factory(CORS_ORIGINS=[site]).test_client()
    comment = post_comment(client)
    voter = browser_headers(mint_reader(client))
    with autocommit_recorded(client.application) as autocommit:
        named = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", headers={**voter, "Origin": site},
                            json={"url": f"{site}/2025/an-article", "title": "An article"})
        assert named.status_code == 202 and named.get_json() == {"views": 1}
        assert send_view(client, headers=voter) == 1  # a repeat: not counted
        assert react(client, "like", headers=voter)["counts"]["like"] == 1
        assert vote(client, comment["id"], 1, headers=voter) == {"score": 1, "upvotes": 1, "downvotes": 0, "my_vote": 1}
        assert vote(client, comment["id"], -1, headers=voter) == {"score": -1, "upvotes": 0, "downvotes": 1, "my_vote": -1}
        assert vote(client, comment["id"], -1, headers=voter)["score"] == -1  # unchanged
        assert vote(client, comment["id"], 0, headers=voter) == {"score": 0, "upvotes": 0, "downvotes": 0, "my_vote": 0}
        assert autocommit and all(autocommit)
    summary = get_article(client)
    assert (summary["views"], summary["url"], summary["title"]) == (1, f"{site}/2025/an-article", "An article")
    assert list_comments(client)["comments"][0]["score"] == 0


@contextmanager
def commit_settings_recorded(app: Flask) -> Iterator[list[str]]:
    """PostgreSQL's ``synchronous_commit`` in the transaction after each statement the app sends."""
    settings: list[str] = []

    def record(connection, *_args):
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            settings.append(cursor.fetchone()[0])

    with engine_listening(app, "after_cursor_execute", record):
        yield settings


@pytest.mark.parametrize("asynchronous", [True, False])
def test_postgresql_counters_commit_without_waiting_for_the_disk(app_factory, is_postgres, monkeypatch, asynchronous):
    """A view's, a reaction's and a vote's statement turns ``synchronous_commit`` off for its
    own transaction (ENGAGEMENT_PG_ASYNC_COUNTER_COMMITS, on by default); a comment's
    transaction keeps the server's setting."""
    if not is_postgres:
        return  # SQLite's commits are the same for every write (synchronous=NORMAL)
    # Each request in one transaction, so that the setting can be read before its commit.
    monkeypatch.setattr(extensions, "_autocommit_engine", lambda engine: engine)
    client = app_factory(PG_ASYNC_COUNTER_COMMITS=asynchronous).test_client()
    comment = post_comment(client)
    reader = browser_headers(mint_reader(client))
    counted = "off" if asynchronous else "on"
    with commit_settings_recorded(client.application) as settings:
        assert send_view(client, headers=reader) == 1
        assert settings[-1] == counted
        assert react(client, "like", headers=reader)["counts"]["like"] == 1
        assert settings[-1] == counted
        assert vote(client, comment["id"], 1, headers=reader)["score"] == 1
        assert settings[-1] == counted
        settings.clear()
        post_comment(client, body="a comment waits for the disk")
        assert settings and set(settings) == {"on"}


def test_postgresql_a_comment_locks_the_articles_counters_only_as_it_commits(app, client, is_postgres, monkeypatch):
    """Every comment on an article updates the article's row (comment count, version) and
    its hour's trending bucket, and a row stays locked until the transaction that updated
    it commits. On PostgreSQL a comment's transaction updates them with its COMMIT, in one
    round trip, and writes its event there too: while it does its other work (here paused
    after its event is queued), another transaction updates both rows without waiting. The
    counts still come out exact."""
    if not is_postgres:
        return  # SQLite's writers take turns on the whole database anyway
    post_comment(client)  # the article and its bucket exist from here on
    written, resume = threading.Event(), threading.Event()
    record_event = comments.events.record_for_comment

    def record_then_pause(*args, **kwargs):
        record_event(*args, **kwargs)
        written.set()
        resume.wait(10)

    monkeypatch.setattr(comments.events, "record_for_comment", record_then_pause)
    sent = []  # (tables written, whether in psycopg's pipeline mode) of each send_without_answers
    send = extensions.send_without_answers

    def note_sent(connection, writes):
        pipelined = connection.connection.dbapi_connection.pgconn.pipeline_status != psycopg.pq.PipelineStatus.OFF
        sent.append(([statement.table.name for statement, _ in writes], pipelined))
        send(connection, writes)

    monkeypatch.setattr(extensions, "send_without_answers", note_sent)
    answers = []
    posting = threading.Thread(target=lambda: answers.append(client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "A second thought."})))
    posting.start()
    try:
        assert written.wait(10)
        with app.app_context():
            engine = db.engine
        with engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '1s'")  # a lock held by the comment fails the test
            article = other.execute(sa.text(
                "UPDATE articles SET version = version + 1 WHERE key = :key RETURNING id"), {"key": DEFAULT_ARTICLE}
            ).scalar_one()
            bucket = other.execute(sa.text(
                "UPDATE activity_buckets SET views = views WHERE article_id = :article"), {"article": article})
            assert bucket.rowcount == 1
            other.rollback()
    finally:
        resume.set()
        posting.join(10)
    assert answers[0].status_code == 201
    assert sent == [(["articles", "activity_buckets", "events"], True)]  # with the COMMIT, in one round trip
    assert get_article(client)["comment_count"] == 2
    with app.app_context():
        buckets = db.session.execute(sa.text("SELECT sum(comments) FROM activity_buckets")).scalar_one()
    assert buckets == 2


# --- one connection per read -----------------------------------------------------------

def checkouts(app: Flask, requests: int) -> int:
    """Pool checkouts ``requests`` writes in a transaction make: one each on PostgreSQL;
    none on SQLite, where the serving thread keeps its connection from one request to the
    next (as it does for reads and counters on PostgreSQL: those make none either, once
    the thread's first read took its connection out)."""
    with app.app_context():
        return 0 if db.engine.dialect.name == "sqlite" else requests


@contextmanager
def database_use(app: Flask) -> Iterator[dict[str, int]]:
    """Counts ORM sessions created and pool connections checked out (and still out)."""
    seen = {"sessions": 0, "checkouts": 0, "out": 0}

    def session_created(*_args: object) -> None:
        seen["sessions"] += 1

    def checked_out(*_args: object) -> None:
        seen["checkouts"] += 1
        seen["out"] += 1

    def checked_in(*_args: object) -> None:
        seen["out"] -= 1

    with app.app_context():
        pool = db.engine.pool
    listeners = [(EngagementSession, "after_begin", session_created), (pool, "checkout", checked_out),
                 (pool, "checkin", checked_in)]
    for target, name, listener in listeners:
        sa.event.listen(target, name, listener)
    try:
        yield seen
    finally:
        for target, name, listener in listeners:
            sa.event.remove(target, name, listener)


def test_cached_reads_use_one_connection_and_no_session(app, client):
    post_comment(client)
    list_comments(client)  # rendered once: the next reads are served from the stored body
    with database_use(app) as seen:
        list_comments(client)
        counts = client.get("/api/v1/counts", query_string={"articles": [DEFAULT_ARTICLE, "other"]})
        assert counts.status_code == 200
        reactions = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions", headers=browser_headers())
        assert reactions.status_code == 200
        assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}").status_code == 200
        assert client.get("/api/v1/articles/unknown-article").status_code == 404
        assert client.get("/api/v1/trending").status_code == 200
        assert client.get("/api/v1/trending", query_string={"window": "7d"}).status_code == 200
    # Each ran on the connection the thread kept, with no session.
    assert seen == {"sessions": 0, "checkouts": 0, "out": 0}


def test_a_read_that_needs_the_session_shares_its_connection(app, client):
    post_comment(client)
    list_comments(client)
    with database_use(app) as seen:
        assert client.get("/api/v1/comments.atom").status_code == 200
        assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments.atom").status_code == 200
    assert seen == {"sessions": 2, "checkouts": 0, "out": 0}  # one session per request, on the kept connection


def test_a_thread_page_rendered_each_time_needs_no_session(app_factory):
    client = app_factory(RENDERED_CACHE_ENTRIES=0).test_client()
    post_comment(client)
    get_article(client)  # the thread's first read takes out the connection it keeps
    with database_use(client.application) as seen:
        first, second = list_comments(client), list_comments(client)
    assert first == second and len(first["comments"]) == 1
    assert seen == {"sessions": 0, "checkouts": 0, "out": 0}


def test_a_read_after_a_write_sees_it(client):
    post_comment(client)
    first = list_comments(client)
    post_comment(client, body="a second thought, posted after the first read")
    assert len(list_comments(client)["comments"]) == len(first["comments"]) + 1


# --- writes: one transaction on the request's connection ----------------------------------

def test_counted_writes_use_one_connection_and_no_session(app, client):
    comment = post_comment(client)
    voter = browser_headers(mint_reader(client))
    list_comments(client)
    with database_use(app) as seen:
        assert send_view(client, headers=voter) == 1
        assert react(client, "like", headers=voter)["counts"]["like"] == 1
        assert react(client, "love", headers=voter)["mine"] == ["like", "love"]
        assert react(client, "love", method="DELETE", headers=voter)["mine"] == ["like"]
        assert vote(client, comment["id"], 1, headers=voter)["score"] == 1
    assert seen == {"sessions": 0, "checkouts": 0, "out": 0}
    # Each was committed with its request.
    summary = get_article(client)
    assert (summary["views"], summary["reactions"]["like"], summary["reactions"]["love"]) == (1, 1, 0)
    assert list_comments(client)["comments"][0]["score"] == 1


def test_a_write_that_fails_midway_leaves_nothing_behind(app, client, monkeypatch):
    """A posted comment's row and its article's count ran on the connection before the
    failure: both roll back, and the thread is as it was."""
    post_comment(client)
    before = get_article(client)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the request failed after the comment was stored and counted")

    monkeypatch.setattr(comments.events, "record_for_comment", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Lost midway, never shown."},
                           headers=browser_headers())
    assert response.status_code == 500
    monkeypatch.undo()
    assert get_article(client)["comment_count"] == before["comment_count"] == 1
    assert [comment["body_html"] for comment in list_comments(client)["comments"]] == ["<p>A thoughtful comment.</p>"]
    # The same body can be posted again: no stored copy is left to count as a duplicate.
    assert client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Lost midway, never shown."},
                       headers=browser_headers()).status_code == 201


def test_a_write_that_needs_the_session_runs_it_on_the_connection_and_its_transaction(app, client):
    list_comments(client)
    with database_use(app) as seen:
        post_comment(client)
    # The comment's prebuilt statements and the session's share one connection and commit together.
    assert seen == {"sessions": 1, "checkouts": checkouts(app, 1), "out": 0}
    assert get_article(client)["comment_count"] == 1
    assert len(list_comments(client)["comments"]) == 1
