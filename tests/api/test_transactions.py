"""Write requests on SQLite take turns on one lock per process; reads never wait for it."""
from __future__ import annotations

import threading

from engagement.api.common import WRITE_LOCK
from tests.factories import list_comments, post_comment


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
