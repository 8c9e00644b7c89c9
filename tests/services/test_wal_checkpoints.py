"""SQLite WAL checkpoints run on a background thread per worker, not in a request's commit."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from engagement.extensions import FALLBACK_CHECKPOINT_PAGES, db
from tests.factories import browser_headers, mint_reader, send_view
from tests.support.periodic import run_rounds

CHECKPOINTER_THREAD = "engagement-wal-checkpointer"


@pytest.fixture(autouse=True)
def _sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("WAL checkpoints are SQLite's")


def _checkpointer_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == CHECKPOINTER_THREAD}


def _pragma(app: Flask, name: str) -> Any:
    with app.app_context():
        with db.engine.connect() as connection:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def _views_in_database_file(database_url: str) -> int | None:
    """The article's views as the database file holds them, leaving the WAL aside (``immutable``)."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as reader:
        row = reader.execute("SELECT views FROM articles WHERE key = 'story'").fetchone()
    return None if row is None else row[0]


def _reads_a_thread(app: Flask) -> bool:
    return app.test_client().get("/api/v1/articles/story/comments").status_code == 200


def test_no_checkpointer_in_tests_or_when_turned_off(app_factory: Callable[..., Flask]) -> None:
    before = _checkpointer_threads()
    for app in (app_factory(), app_factory(TESTING=False, SQLITE_CHECKPOINT_SECONDS=0)):
        assert "engagement.wal_checkpointer" not in app.extensions
        send_view(app.test_client(), "story")
        assert _pragma(app, "wal_autocheckpoint") == 1000  # SQLite's own: the commit checkpoints
    assert _checkpointer_threads() == before


def test_a_worker_checkpoints_in_the_background(app_factory: Callable[..., Flask], database_url: str) -> None:
    before = _checkpointer_threads()
    app = app_factory(TESTING=False, SQLITE_CHECKPOINT_SECONDS=0.05)
    checkpointer = app.extensions["engagement.wal_checkpointer"]
    with app.app_context():  # a command's connection, outside any request: no thread
        db.session.execute(sa.text("SELECT 1"))
        db.session.remove()
    assert not checkpointer.running  # not in create_app nor in commands: in a worker serving writes
    assert _reads_a_thread(app)
    assert not checkpointer.running
    client = app.test_client()
    try:
        for _ in range(3):
            assert client.post("/api/v1/articles/story/views", headers=browser_headers(mint_reader(client))).status_code == 202
        assert checkpointer.running and len(_checkpointer_threads() - before) == 1
        # Requests checkpoint only when the WAL has grown far past SQLite's usual threshold.
        assert _pragma(app, "wal_autocheckpoint") == FALLBACK_CHECKPOINT_PAGES
        deadline = time.monotonic() + 10
        while _views_in_database_file(database_url) != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _views_in_database_file(database_url) == 3  # copied from the WAL into the file
    finally:
        checkpointer.stop()
    assert not checkpointer.running


def test_a_failing_checkpoint_is_logged_and_retried(
    app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_factory(TESTING=False, SQLITE_CHECKPOINT_SECONDS=0.02)
    checkpointer = app.extensions["engagement.wal_checkpointer"]
    rounds: list[int] = []
    original = checkpointer._run_once

    def flaky() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        original()

    monkeypatch.setattr(checkpointer, "_run_once", flaky)
    run_rounds(checkpointer, rounds, 3)
    assert len(rounds) >= 3
    assert "SQLite WAL checkpoint failed" in caplog.text
