"""Each serving thread keeps its connection from one request to the next (on PostgreSQL,
its autocommit connection for reads and counters): no transaction and no lock outlives a
request, no thread waits for another's connection, a dead one is replaced, and a thread
that ends (or an engine that is replaced) gives its connection back."""
from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from engagement import extensions
from engagement.extensions import db, request_connection
from tests.factories import DEFAULT_ARTICLE, browser_headers, get_article, list_comments, post_comment, send_view

THREAD = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"


@pytest.fixture
def sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite's own connections")


@pytest.fixture
def postgresql_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL's autocommit connections")


def kept_connection() -> Any:
    """The calling thread's kept SQLAlchemy connection."""
    return extensions._thread_kept.connection


def database_path(app: Flask) -> str:
    with app.app_context():
        return str(db.engine.url.database)


def test_a_thread_serves_its_reads_and_counters_on_one_connection_and_ends_each_without_a_transaction(client):
    post_comment(client)
    list_comments(client)
    first = kept_connection()
    send_view(client, headers=browser_headers())
    get_article(client)
    assert kept_connection() is first
    assert not first.in_transaction()
    driver = first.connection.dbapi_connection
    if isinstance(driver, sqlite3.Connection):
        assert not driver.in_transaction
    else:
        assert driver.info.transaction_status == driver.info.transaction_status.IDLE and driver.autocommit


def test_what_a_request_left_uncommitted_is_rolled_back_when_it_ends(app, client, sqlite_only):
    post_comment(client)
    with app.test_request_context(f"/api/v1/articles/{DEFAULT_ARTICLE}/views", method="POST"):
        driver = request_connection().connection.dbapi_connection
        # Written on the driver itself, outside SQLAlchemy's transaction: only the driver knows.
        driver.execute("UPDATE articles SET views = 99 WHERE key = ?", (DEFAULT_ARTICLE,))
        assert driver.in_transaction
    assert not kept_connection().connection.dbapi_connection.in_transaction
    assert get_article(client)["views"] == 0


def test_a_write_that_fails_midway_holds_no_lock_afterwards(app, client, monkeypatch, sqlite_only):
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


def test_more_threads_than_the_pool_holds_each_keep_a_connection_without_waiting(app, sqlite_only):
    threads = 24  # more than SQLAlchemy's default pool of 5 with 10 overflow
    all_served = threading.Barrier(threads, timeout=30)
    statuses: list[int] = []

    def serve() -> None:
        statuses.append(app.test_client().get(THREAD).status_code)
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
        assert app.test_client().get(THREAD).status_code == 200
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
    list_comments(first.test_client())
    with first.app_context():
        first_pool = db.engine.pool
    assert first_pool.checkedout() == 1
    assert get_article(second.test_client())["comment_count"] == 1  # the same database, another engine
    assert first_pool.checkedout() == 0


def test_postgresql_transactions_take_a_pool_connection_and_leave_the_kept_one_in_autocommit(app, client,
                                                                                           postgresql_only):
    list_comments(client)
    kept = kept_connection()
    with app.app_context():
        pool = db.engine.pool
    checkouts: list[object] = []

    def checked_out(*_args: object) -> None:
        checkouts.append(_args)

    sa.event.listen(pool, "checkout", checked_out)
    try:
        post_comment(client)
    finally:
        sa.event.remove(pool, "checkout", checked_out)
    assert len(checkouts) == 1  # the comment's transaction ran on a connection of its own
    list_comments(client)
    assert kept_connection() is kept and kept.connection.dbapi_connection.autocommit


def test_postgresql_a_kept_connection_that_died_while_idle_is_replaced_before_use(app, client, database_url,
                                                                                 monkeypatch, postgresql_only):
    post_comment(client)
    list_comments(client)
    dead = kept_connection()
    pid = dead.connection.dbapi_connection.info.backend_pid
    outside = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with outside.connect() as connection:
            assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        outside.dispose()
    monkeypatch.setattr(extensions, "IDLE_PING_SECONDS", 0.0)  # every reuse has waited long enough
    assert len(list_comments(client)["comments"]) == 1  # not a 503: the ping found it dead
    assert kept_connection() is not dead


def test_postgresql_threads_keep_at_most_the_pools_steady_size(app, client, postgresql_only):
    post_comment(client)
    with app.app_context():
        pool = db.engine.pool
    threads = pool.size() + 3
    all_served = threading.Barrier(threads + 1, timeout=30)
    statuses: list[int] = []

    def serve() -> None:
        statuses.append(app.test_client().get(THREAD).status_code)
        all_served.wait()  # every thread still holds what it kept
        all_served.wait()

    workers = [threading.Thread(target=serve) for _ in range(threads)]
    for worker in workers:
        worker.start()
    all_served.wait()
    try:
        assert statuses == [200] * threads
        assert pool.checkedout() <= pool.size()
        post_comment(client, body="a transaction still finds a connection")
    finally:
        all_served.wait()
        for worker in workers:
            worker.join()
