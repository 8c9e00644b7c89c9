"""The ceiling: a bare Flask app served with engagement's gunicorn settings.

Routes (what each engagement scenario is compared with):

- ``GET /fixed`` returns a fixed JSON document;
- ``POST /fixed`` parses a JSON body and returns a fixed JSON document;
- ``GET /rows/<id>`` reads one row by primary key from a SQLite file;
- ``POST /rows`` parses a JSON body and inserts one row into that file.

The SQLite file (``BENCH_BARE_DB``) uses engagement's PRAGMAs: WAL, synchronous=NORMAL,
foreign keys on, a 5 s busy timeout. Each thread opens one connection on first use.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any

from flask import Flask, abort, jsonify, request
from flask.typing import ResponseReturnValue

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
FIXED = {"status": "ok", "article": "bench-fixed", "views": 1234, "comments": 56, "reactions": {"like": 7}}

app = Flask(__name__)
# One connection per thread: gunicorn's gthread workers serve requests on several threads,
# and a sqlite3 connection belongs to the thread that opened it.
_local = threading.local()


def connect(path: str) -> sqlite3.Connection:
    """A connection to ``path`` with engagement's PRAGMAs applied."""
    connection = sqlite3.connect(path, timeout=5)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    return connection


def create_database(path: str, rows: int = 10_000) -> None:
    """Create the ceiling's SQLite file: ``items`` with ``rows`` rows and an empty ``events``."""
    connection = connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, views INTEGER NOT NULL,"
            " comments INTEGER NOT NULL)"
        )
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, key TEXT NOT NULL, value INTEGER NOT NULL,"
            " created_at TEXT NOT NULL)"
        )
        connection.executemany(
            "INSERT INTO items (id, key, views, comments) VALUES (?, ?, ?, ?)",
            ((n, f"item-{n:05d}", n * 7 % 5000, n % 300) for n in range(1, rows + 1)),
        )
    connection.close()


def _db() -> sqlite3.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = connect(os.environ["BENCH_BARE_DB"])
    return connection


@app.get("/fixed")
def get_fixed() -> ResponseReturnValue:
    return jsonify(FIXED)


@app.post("/fixed")
def post_fixed() -> ResponseReturnValue:
    body: Any = request.get_json()
    if not isinstance(body, dict):
        abort(400)
    return jsonify(FIXED)


@app.get("/rows/<int:row_id>")
def get_row(row_id: int) -> ResponseReturnValue:
    row = _db().execute("SELECT id, key, views, comments FROM items WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        abort(404)
    return jsonify({"id": row[0], "key": row[1], "views": row[2], "comments": row[3]})


@app.post("/rows")
def post_row() -> ResponseReturnValue:
    body: Any = request.get_json()
    if not isinstance(body, dict) or not isinstance(body.get("key"), str):
        abort(400)
    connection = _db()
    with connection:  # one transaction, committed on exit
        cursor = connection.execute(
            "INSERT INTO events (key, value, created_at) VALUES (?, ?, ?)",
            (body["key"], int(body.get("value", 1)), datetime.now(timezone.utc).isoformat()),
        )
    return jsonify({"id": cursor.lastrowid}), 201
