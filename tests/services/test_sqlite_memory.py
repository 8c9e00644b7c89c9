"""One bound on SQLite's memory per process (ENGAGEMENT_SQLITE_MEMORY_MB), whatever the number of connections."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from engagement.extensions import db

MIB = 1024 * 1024
CONNECTIONS = 4  # each would keep SQLite's default 2 MiB page cache of the table below
FILLER_ROWS = 16_000  # about 6.5 MiB of pages: more than one connection's cache


@pytest.fixture(autouse=True)
def _sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite's own memory")


@pytest.fixture(scope="module")
def sqlite_library() -> ctypes.CDLL:
    """The SQLite library under Python's sqlite3 module, for its process-wide memory counter."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared SQLite library to read the memory counter from")
    library = ctypes.CDLL(name)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute("SELECT 1").fetchone()
        if library.sqlite3_memory_used() == 0:
            pytest.skip("Python's sqlite3 runs on its own copy of SQLite, not the shared library")
    return library


@pytest.fixture
def wide_database(tmp_path: Path) -> str:
    """A database file whose one table is larger than a connection's page cache."""
    path = tmp_path / "wide.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        connection.executemany("INSERT INTO filler (body) VALUES (?)", ((f"{row:08d}" * 50,) for row in range(FILLER_ROWS)))
        connection.commit()
    return f"sqlite:///{path}"


def _growth_while_connections_read_everything(app: Flask, library: ctypes.CDLL) -> int:
    """How much SQLite's memory grows while CONNECTIONS connections each read the whole table."""
    with app.app_context(), contextlib.ExitStack() as stack:
        before = library.sqlite3_memory_used()
        for _ in range(CONNECTIONS):  # all checked out together, as a worker's threads hold them
            connection = stack.enter_context(db.engine.connect())
            assert connection.exec_driver_sql("SELECT count(body) FROM filler").scalar() == FILLER_ROWS
        return library.sqlite3_memory_used() - before


def test_a_worker_connections_share_one_memory_bound(
    app_factory: Callable[..., Flask], wide_database: str, sqlite_library: ctypes.CDLL
) -> None:
    bounded = app_factory(SQLALCHEMY_DATABASE_URI=wide_database, SQLITE_MEMORY_MB=1)
    assert _growth_while_connections_read_everything(bounded, sqlite_library) < MIB

    # The same reads without the bound: each connection fills its own cache.
    unbounded = app_factory(SQLALCHEMY_DATABASE_URI=wide_database, SQLITE_MEMORY_MB=0)
    assert _growth_while_connections_read_everything(unbounded, sqlite_library) > CONNECTIONS * MIB


def test_the_bound_defaults_to_8_mib_and_0_lifts_it(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    for overrides, limit in (({}, 8 * MIB), ({"SQLITE_MEMORY_MB": 0}, 0)):
        app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'pragmas.db'}", **overrides)
        with app.app_context(), db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA soft_heap_limit").scalar() == limit
