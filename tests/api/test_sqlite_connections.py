"""On SQLite each serving thread keeps its connection from one request to the next: no
transaction and no lock outlives a request, no thread waits for another's connection, and
a thread that ends (or an engine that is replaced) gives its connection back."""
from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from flask import Flask

from engagement import extensions
from engagement.extensions import db, request_connection
from tests.factories import DEFAULT_ARTICLE, browser_headers, get_article, list_comments, post_comment, send_view


@pytest.fixture(autouse=True)
def sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("PostgreSQL connections come from the pool and go back with each request")


def kept_connection() -> Any:
    """The calling thread's kept SQLAlchemy connection."""
    return extensions._thread_sqlite.connection


def database_path(app: Flask) -> str:
    with app.app_context():
        return str(db.engine.url.database)


def test_a_thread_serves_its_requests_on_one_connection_and_ends_each_without_a_transaction(client):
    post_comment(client)
    first = kept_connection()
    send_view(client, headers=browser_headers())
    list_comments(client)
    assert kept_connection() is first
    assert not first.in_transaction() and not first.connection.dbapi_connection.in_transaction


def test_what_a_request_left_uncommitted_is_rolled_back_when_it_ends(app, client):
    post_comment(client)
    with app.test_request_context(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", method="POST"):
        driver = request_connection().connection.dbapi_connection
        # Written on the driver itself, outside SQLAlchemy's transaction: only the driver knows.
        driver.execute("UPDATE articles SET views = 99 WHERE key = ?", (DEFAULT_ARTICLE,))
        assert driver.in_transaction
    assert not kept_connection().connection.dbapi_connection.in_transaction
    assert get_article(client)["views"] == 0


def test_a_write_that_fails_midway_holds_no_lock_afterwards(app, client, monkeypatch):
    from engagement.services import comments

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("failed after the comment was stored")

    monkeypatch.setattr(comments.events, "record_for_comment", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Never stored."},
                           headers=browser_headers())
    assert response.status_code == 500
    # Another connection may write at once: the kept one holds no write lock.
    other = sqlite3.connect(database_path(app), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_more_threads_than_the_pool_holds_each_keep_a_connection_without_waiting(app):
    threads = 24  # more than SQLAlchemy's default pool of 5 with 10 overflow
    all_served = threading.Barrier(threads, timeout=30)
    statuses: list[int] = []

    def serve() -> None:
        statuses.append(app.test_client().get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments").status_code)
        all_served.wait()  # every thread still holds its kept connection here

    workers = [threading.Thread(target=serve) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == [200] * threads


def test_a_thread_that_ends_returns_its_connection_to_the_pool(app):
    with app.app_context():
        pool = db.engine.pool
    held: list[int] = []

    def serve() -> None:
        assert app.test_client().get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments").status_code == 200
        held.append(pool.checkedout())

    before = pool.checkedout()
    worker = threading.Thread(target=serve)
    worker.start()
    worker.join()
    del worker
    assert held == [before + 1]
    assert pool.checkedout() == before


def test_serving_another_app_closes_the_connection_kept_for_the_first(app_factory):
    first, second = app_factory(), app_factory()
    post_comment(first.test_client())
    with first.app_context():
        first_pool = db.engine.pool
    assert first_pool.checkedout() == 1
    assert get_article(second.test_client())["comment_count"] == 1  # the same database, another engine
    assert first_pool.checkedout() == 0
