"""Failure modes: a database that goes away or stays locked gives JSON 503s, then recovers."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tests.factories import DEFAULT_ARTICLE, assert_error, post_comment
from tests.support.tcp_proxy import TcpProxy

COMMENTS = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"


def test_postgresql_outage_gives_503_and_recovers_without_restart(app_factory, database_url, is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    url = sa.engine.make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        client = app_factory(SQLALCHEMY_DATABASE_URI=proxied).test_client()
        post_comment(client, body="before the outage")
        assert client.get("/readyz").status_code == 200

        proxy.cut()
        down = client.post(COMMENTS, json={"body": "during the outage"})
        assert_error(down, 503, "unavailable")
        assert int(down.headers["Retry-After"]) > 0
        assert_error(client.get(COMMENTS), 503, "unavailable")
        assert client.get("/readyz").status_code == 503

        proxy.restore()
        # Same app, same pool: pre-ping replaces the dead connections.
        assert client.get("/readyz").status_code == 200
        post_comment(client, body="after the outage")
        bodies = [c["body_html"] for c in client.get(COMMENTS).get_json()["comments"]]
        assert bodies == ["<p>before the outage</p>", "<p>after the outage</p>"]
    finally:
        proxy.cut()


def test_locked_sqlite_database_gives_503_then_recovers(app_factory, tmp_path, is_postgres):
    if is_postgres:
        pytest.skip("SQLite locking")
    path = tmp_path / "locked.db"
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT_MS=100)
    from engagement.extensions import db
    from engagement.models import Base

    with app.app_context():
        Base.metadata.create_all(db.engine)
    client = app.test_client()
    post_comment(client, body="before the lock")

    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = client.post(COMMENTS, json={"body": "while locked"})
        assert_error(locked, 503, "unavailable")
        assert locked.headers["Retry-After"]
    finally:
        holder.rollback()
        holder.close()
    post_comment(client, body="after the lock")
