"""Extensions, created unbound here and bound to an app in ``create_app``."""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from engagement.config import ConfigurationError
from engagement.models.base import Base
from engagement.observability import ThrottledWarnings
from engagement.periodic import PeriodicTask
from engagement.services.statements import (
    can_send_without_answers,
    has_writes_at_commit,
    send_without_answers,
    take_writes_at_commit,
)


class EngagementApi(Api):
    """flask-smorest's Api without its own error handlers: ``engagement.errors`` owns the envelope."""

    def _register_error_handlers(self) -> None:
        return None


# Requests with these methods only read (or write one statement at a time, e.g. a token's
# last use): on PostgreSQL their connection runs without a transaction (see request_connection).
READ_METHODS = frozenset({"GET", "HEAD"})


class EngagementSession(FlaskSession):
    """Flask-SQLAlchemy's session; in a request it runs on the request's connection
    (``request_connection``).

    Statements that need no ORM object run on that connection without creating a
    session at all (the session's own bookkeeping costs more than a cached thread page's
    one query, or a counted view's three statements); a request that does need the
    session shares the connection, and its transaction, instead of checking out a second one.
    """

    def __init__(self, db: Any, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        self._in_request = has_request_context()
        self._only_bind: Engine | Connection | None = None

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any) -> Any:
        if bind is not None:
            return bind
        # engagement configures one database (no SQLALCHEMY_BINDS), so every lookup ends at
        # the same engine: found once per session rather than on each statement (the
        # lookup goes through the app context, about 3 µs a time).
        if self._only_bind is None:
            if len(self._db.engines) != 1:
                return super().get_bind(mapper, clause, **kwargs)
            engine = super().get_bind()
            self._only_bind = request_connection(engine) if self._in_request else engine
        return self._only_bind


@functools.cache
def _autocommit_engine(engine: Engine) -> Engine:
    # The same pool: connections are switched to autocommit on checkout and back on return.
    return engine.execution_options(isolation_level="AUTOCOMMIT")


_REQUEST_CONNECTION = "_engagement_request_connection"  # where request_connection keeps it (in g)
_STANDALONE_STATEMENTS = "_engagement_standalone_statements"  # set by standalone_statements (in g)


def standalone_statements() -> None:
    """Let the current request's statements each commit by itself on PostgreSQL (autocommit).

    For a request whose every write is one statement that stands alone: the locks a
    write takes then end with the statement, instead of at a ``COMMIT`` one round trip
    (and, on a busy core, one wait for the interpreter) later, and no ``BEGIN`` is sent.
    Effective only before the request's first statement; SQLite is left as it is (one
    transaction, as its writers take turns anyway).
    """
    setattr(g, _STANDALONE_STATEMENTS, True)


def request_connection(engine: Engine | None = None) -> Connection:
    """The database connection of the current request: taken on first use, and given back
    or left with no transaction open when the request ends (``install_request_connections``).

    A GET or HEAD only reads. On PostgreSQL its connection runs in autocommit mode: a
    transaction would cost two round trips of its own (BEGIN, and the ROLLBACK when the
    connection goes back to the pool), more than a cached read's one query; each
    statement sees the data as of its start, as in a READ COMMITTED transaction. On
    SQLite a read begins no transaction anyway. A request marked by
    ``standalone_statements`` runs in autocommit mode on PostgreSQL too.

    Any other request's connection begins a transaction with its first statement; the
    request's session, if it needs one, joins it. ``finish_request_transaction`` commits
    or rolls back both; what is left uncommitted when the request ends is rolled back.

    The serving thread keeps the connection for its next request (``_kept_connection``)
    on SQLite, and on PostgreSQL when it runs in autocommit mode; a PostgreSQL
    connection in a transaction comes from the pool and goes back.
    """
    connection: Connection | None = g.get(_REQUEST_CONNECTION)
    if connection is None:
        engine = engine or db.engine
        if engine.dialect.name == "sqlite":
            connection = _kept_connection(engine)
        elif engine.dialect.name == "postgresql" and (
            request.method in READ_METHODS or g.get(_STANDALONE_STATEMENTS, False)
        ):
            connection = _kept_connection(_autocommit_engine(engine), ping_after=IDLE_PING_SECONDS)
        else:
            connection = engine.connect()
        setattr(g, _REQUEST_CONNECTION, connection)
    return connection


# The connection each serving thread keeps between requests (``_kept_connection``), and
# since when it has waited (``idle_since``, time.monotonic()).
_thread_kept = threading.local()


def _kept_connection(engine: Engine, *, ping_after: float | None = None) -> Connection:
    """The calling thread's connection to ``engine``, kept from one request to the next.

    Taking a connection from the pool and returning it (SQLAlchemy's ``Connection``, the
    pool's bookkeeping, its reset) cost about 40 µs a request, more than a cached thread
    page's query, so a serving thread keeps one. The request's end leaves it with no
    transaction open (``_close_request_connection``), and a thread that ends returns it
    to the pool. One that is dead, or belongs to another engine (a test's earlier app),
    is closed and replaced.

    SQLite: a connection is a file handle and a share of the worker's bounded page
    cache, with no server that could drop it, and its pool has no overflow limit
    (``config._engine_options``), so no thread waits for another's.

    PostgreSQL (``ping_after`` seconds): only autocommit connections are kept, so a kept
    one never switches mode; one that waited that long is pinged first, as the pool pings
    its idle ones (``ping_idle_connections``), and replaced if the ping fails. Threads keep
    at most the pool's steady size: past it, the connection goes back to the pool with
    the request, so transactions still find connections.
    """
    kept: Connection | None = getattr(_thread_kept, "connection", None)
    if kept is not None:
        if kept.engine is engine and not kept.invalidated and not kept.closed and (
            ping_after is None or time.monotonic() - _thread_kept.idle_since < ping_after or _answers(kept)
        ):
            return kept
        release_kept_connection()
    if ping_after is not None and engine.pool.checkedout() >= engine.pool.size():  # type: ignore[attr-defined]
        return engine.connect()  # the request's alone: given back when it ends
    kept = _thread_kept.connection = engine.connect()
    _thread_kept.idle_since = time.monotonic()
    return kept


def release_kept_connection() -> None:
    """Close the connection the calling thread keeps, if any, for good: its engine may be
    about to be disposed (or already replaced), so it is not given back to its pool."""
    kept: Connection | None = getattr(_thread_kept, "connection", None)
    _thread_kept.connection = None
    if kept is not None:
        if not kept.invalidated and not kept.closed:
            kept.invalidate()
        kept.close()


def _answers(connection: Connection) -> bool:
    """Whether a kept connection answers a ping; one that does not is invalidated."""
    try:
        _ping(connection.connection.dbapi_connection)
    except connection.dialect.loaded_dbapi.Error as exc:
        connection.invalidate(exc)
        return False
    return True


def finish_request_transaction(*, commit: bool) -> None:
    """Commit (or roll back) the request's work: its session's, then its connection's.

    A session that began the connection's transaction commits it; one that joined a
    transaction begun by a statement run on the connection only flushes on commit (it
    joined for rollback only), and the connection's own commit follows.

    On PostgreSQL, the writes the session queued for the commit (``statements.at_commit``)
    are sent with the COMMIT, in one round trip (psycopg's pipeline mode).
    """
    session = db.session() if db.session.registry.has() else None
    connection: Connection | None = g.get(_REQUEST_CONNECTION)
    if not commit:
        if session is not None:
            session.rollback()
        if connection is not None and connection.in_transaction():
            connection.rollback()
        return
    with _writes_sent_with_commit(session):
        if session is not None:
            session.commit()
        if connection is not None and connection.in_transaction():
            connection.commit()


@contextlib.contextmanager
def _writes_sent_with_commit(session: Session | None) -> Iterator[None]:
    """Around a commit: on psycopg, the session's writes at commit are sent first, in a
    pipeline the COMMIT joins. Elsewhere the session's commit runs them itself
    (``statements._run_writes_at_commit``)."""
    connection = session.connection() if session is not None and has_writes_at_commit(session) else None
    if connection is None or not can_send_without_answers(connection):
        yield
        return
    writes = take_writes_at_commit(session)
    session.flush()  # the writes come after everything else the transaction wrote
    with connection.connection.dbapi_connection.pipeline():
        send_without_answers(connection, writes)
        yield


def _close_request_connection(_error: BaseException | None) -> None:
    connection: Connection | None = g.pop(_REQUEST_CONNECTION, None)
    if connection is None:
        return
    db.session.remove()  # a session of the request runs on the connection: it goes first
    if connection is not getattr(_thread_kept, "connection", None):
        connection.close()  # rolls back what was left uncommitted
        return
    # The thread keeps it: roll back what was left uncommitted, as the pool would on return,
    # so that no transaction (and no lock) outlives the request. The driver's own rollback
    # costs nothing when it has no transaction open (sqlite3, psycopg alike).
    _thread_kept.idle_since = time.monotonic()
    connection.rollback()
    if not connection.invalidated and not connection.closed:
        driver_connection = connection.connection.dbapi_connection
        if driver_connection is not None:
            driver_connection.rollback()


def install_request_connections(app: Flask) -> None:
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it.
    app.teardown_appcontext(_close_request_connection)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False, "class_": EngagementSession})
MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent.parent / "migrations"
api = EngagementApi()


def enable_migrations(app: Flask) -> None:
    """Flask-Migrate on ``app``: what its ``db`` commands and ``flask_migrate.upgrade()`` need.

    Called where migrations run (the ``db`` commands, tests), not by ``create_app``:
    Flask-Migrate loads Alembic, about 10 MB that no web worker uses.
    """
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(MIGRATIONS_DIRECTORY), render_as_batch=True)


# What engagement's statements need of SQLite: RETURNING (3.35) and the JSON functions
# (a list of keys is bound as one JSON parameter and read with json_each).
SQLITE_MINIMUM_VERSION = (3, 35, 0)


def require_sqlite_features() -> None:
    """Refuse to start on a SQLite library that lacks a feature the statements use.

    Raises ConfigurationError naming what is missing, rather than failing later on the
    first request that needs it.
    """
    if sqlite3.sqlite_version_info < SQLITE_MINIMUM_VERSION:
        raise ConfigurationError(
            f"SQLite {sqlite3.sqlite_version} is too old: engagement needs 3.35 or later "
            "(Python's sqlite3 module uses the system's library; or use PostgreSQL)"
        )
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        try:
            connection.execute("SELECT value FROM json_each('[1]')").fetchall()
        except sqlite3.OperationalError as error:
            raise ConfigurationError(
                f"SQLite {sqlite3.sqlite_version} was built without its JSON functions, which engagement needs"
            ) from error


# While the background checkpointer runs, a committing request checkpoints the WAL itself
# only past this many pages (about 40 MB at 4 KiB pages; SQLite's own threshold is 1,000):
# a bound on the WAL should that thread ever fall behind.
FALLBACK_CHECKPOINT_PAGES = 10_000


def configure_sqlite(
    engine: Engine, busy_timeout_ms: int, checkpointer: PeriodicTask | None = None, *, memory_mb: int = 0
) -> None:
    """Set the per-connection PRAGMAs that make SQLite safe and fast for several workers.

    WAL lets readers run beside one writer; synchronous=NORMAL is durable in WAL mode
    except for the last transactions on power loss; the busy timeout makes a writer
    wait for the lock instead of failing at once. With ``checkpointer`` (see
    ``wal_checkpointer``; a worker's first write request starts it), checkpoints leave the
    request path: a commit checkpoints only past FALLBACK_CHECKPOINT_PAGES.

    ``memory_mb`` (0: no bound) is SQLite's soft heap limit, which holds for the whole
    process: each connection keeps its own page cache (2 MiB by default), and a worker
    has one connection per thread, so one request that reads widely (trending) would
    otherwise fill every cache in turn. Near the limit SQLite reuses the least recently
    used page of any connection instead of allocating another.
    """
    soft_heap_limit = memory_mb * 1024 * 1024

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA soft_heap_limit={soft_heap_limit}")
        if checkpointer is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
        cursor.close()
        if not sqlite_has_math_functions():
            # The trending ranking decays activity with exp(); a few SQLite builds leave
            # SQL's math functions out, and Python's takes their place.
            dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)


@functools.cache
def sqlite_has_math_functions() -> bool:
    """Whether this SQLite library has SQL's math functions (a compile-time option)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        try:
            connection.execute("SELECT exp(0)").fetchone()
        except sqlite3.OperationalError:
            return False
    return True


_checkpoint_warnings = ThrottledWarnings(logging.getLogger(__name__), 60.0)


def wal_checkpointer(engine: Engine, interval: float) -> PeriodicTask:
    """A task that checkpoints ``engine``'s WAL every ``interval`` seconds, off the request path.

    By default SQLite checkpoints in the commit that takes the WAL past 1,000 pages: that
    request then copies the pages back into the database file, about 10 ms on a small
    server, and every request queued behind it waits too (the write tail latency).
    SQLite's documentation suggests a thread for it instead. The checkpoint is PASSIVE,
    as SQLite's own: it copies what no reader still needs and never waits for a reader
    or a writer (a round that finds another process's checkpoint running skips).
    """

    def checkpoint_once() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def warn(exc: Exception) -> None:
        _checkpoint_warnings.warning("checkpoint", "SQLite WAL checkpoint failed, retried in the next round: %r", exc)

    return PeriodicTask("engagement-wal-checkpointer", checkpoint_once, interval, on_error=warn)


# A pooled connection idle this long is pinged before use (see ping_idle_connections).
IDLE_PING_SECONDS = 10.0


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use when it sat idle for ``idle_seconds`` or more.

    A connection that served a request moments ago is alive as far as anyone can tell;
    pinging it too (``pool_pre_ping``) costs a round trip on every request. One that sat
    idle, across a database restart perhaps, is pinged; if the ping fails, the pool
    replaces it before the request sees it. A restart while connections are busy fails
    the requests that hold them, as it would anyway, and the first failure makes the pool
    replace every connection older than it.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: object, record: object) -> None:
        record.info["idle_since"] = time.monotonic()  # type: ignore[attr-defined]

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: object, record: object, _proxy: object) -> None:
        idle_since = record.info.get("idle_since")  # type: ignore[attr-defined]
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new, or in use moments ago
        try:
            _ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError() from exc  # the pool retries with a new connection


def _ping(dbapi_connection: Any) -> None:
    """``SELECT 1`` on the driver's connection; raises the driver's error when it is gone."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()
    # The ping may have opened a transaction; a read-only request's checkout could not
    # switch the connection to autocommit inside it.
    dbapi_connection.rollback()
