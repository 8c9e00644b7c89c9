"""Write requests on SQLite take turns on one lock per process; reads never wait for it."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask

from engagement.api.common import WRITE_LOCK
from engagement.extensions import EngagementSession, db
from tests.factories import DEFAULT_ARTICLE, browser_headers, list_comments, post_comment


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


def test_postgresql_reads_run_without_a_transaction_and_writes_within_one(app, client, is_postgres):
    """On PostgreSQL a GET runs its statements in autocommit (no BEGIN/ROLLBACK round trips);
    a write runs them in one transaction."""
    if not is_postgres:
        return  # SQLite begins no transaction for reads anyway
    import sqlalchemy as sa

    from engagement.extensions import db

    autocommit: list[bool] = []

    def record(connection, *_args):
        autocommit.append(connection.connection.driver_connection.autocommit)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        post_comment(client)
        assert autocommit and not any(autocommit)
        autocommit.clear()
        list_comments(client)
        assert autocommit and all(autocommit)
        autocommit.clear()
        post_comment(client, body="after a read, a write is transactional again")
        assert autocommit and not any(autocommit)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# --- one connection per read -----------------------------------------------------------

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
        summary = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions", headers=browser_headers())
        assert summary.status_code == 200
    # The thread page's validator and the counts ran on their request's connection alone;
    # the reactions read a session on that same connection: one checkout per request.
    assert seen == {"sessions": 1, "checkouts": 3, "out": 0}


def test_a_read_that_needs_the_session_shares_its_connection(app, client):
    post_comment(client)
    with database_use(app) as seen:
        list_comments(client)  # validator on the connection, then the page through a session
        assert client.get("/api/v1/articles/unknown-article").status_code == 404
    assert seen["checkouts"] == 2 and seen["out"] == 0  # one per request, each returned
    assert seen["sessions"] == 2


def test_a_read_after_a_write_sees_it(client):
    post_comment(client)
    first = list_comments(client)
    post_comment(client, body="a second thought, posted after the first read")
    assert len(list_comments(client)["comments"]) == len(first["comments"]) + 1
