"""Fixtures: an app from the factory per test, against SQLite (default) or DATABASE_URL."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from engagement import create_app
from engagement.config import _database_uri
from engagement.extensions import db, release_kept_connection
from engagement.models import Base

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-production-0123456789"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL when set (PostgreSQL in CI), else a SQLite file for this session."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return _database_uri(configured, "")
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "engagement-test.db")


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def schema(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: sa.Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(autouse=True)
def _empty_redis() -> Iterator[None]:
    """With REDIS_URL set (CI's second pass), every test starts and ends with that database empty."""
    url = os.environ.get("REDIS_URL")
    if not url:
        yield
        return
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A client of the test Redis database (emptied around each test); skips without REDIS_URL."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs a Redis server: set REDIS_URL (.ci/run does)")
    client = redis.Redis.from_url(url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def app_factory(
    database_url: str, schema: sa.Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database; ``overrides`` are Flask config keys."""
    monkeypatch.setenv("ENGAGEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        config = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "RATELIMIT_ENABLED": False,
            "TESTING": True,
            # Redis only where a test asks for it (REDIS_URL=...): the SQL paths are the default.
            "REDIS_URL": None,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    release_kept_connection()  # this thread's, kept by the last request it served
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    _empty_all_tables(schema)


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def receiver() -> Iterator["Receiver"]:
    """A real webhook receiver on 127.0.0.1 (answers 204 unless told otherwise)."""
    from tests.support.webhook_receiver import Receiver

    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def smtp_server() -> Iterator["SmtpServer"]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""
    from tests.support.smtp_server import SmtpServer

    started = SmtpServer().start()
    yield started
    started.stop()
