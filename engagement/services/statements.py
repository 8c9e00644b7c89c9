"""Statements on the hot paths: built once per database dialect, run with parameters.

Building a SQLAlchemy statement (coercing every operand, then deriving its cache key at
each execution) costs several times what SQLite needs to run it. The statements that
every view, reaction, vote and comment runs are therefore Core statements on the tables,
built once (per dialect where the SQL differs) with their values as bound parameters,
and ``run`` compiles each of them once and then hands it to the driver directly.

They run on the session's connection, inside the request's transaction, without the
ORM's execute layer. So they neither flush pending ORM objects nor refresh loaded ones:
callers use them where the session holds no pending change to the rows they touch, and
reload what they read afterwards (the request's commit expires every loaded object).

A write whose answer nobody reads may instead wait for the commit (``at_commit``): the
module listens to every session's commit and rollback for those.
"""
from __future__ import annotations

import collections
import functools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached

# INSERT constructs that support ON CONFLICT, per dialect name.
DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

Built = TypeVar("Built", bound=sa.Executable)


# Where statements run: the request's session (inside its transaction), or a connection
# where a read needs no ORM object (``extensions.request_connection``).
Database = Session | Connection


def dialect_name(database: Database) -> str:
    name = (database if isinstance(database, Connection) else database.get_bind()).dialect.name
    if name not in DIALECT_INSERTS:
        raise RuntimeError(f"unsupported database dialect: {name}")
    return name


def per_dialect(build: Callable[[str], Built]) -> Callable[[Database], Built]:
    """Turn ``build(dialect_name)`` into ``statement(database)``, building once per dialect."""
    built = functools.cache(build)

    @functools.wraps(build)
    def statement(database: Database) -> Built:
        return built(dialect_name(database))

    return statement


def counter_statement(statement: sa.Select[Any], asynchronous_commit: bool) -> sa.Select[Any]:
    """A counter's PostgreSQL statement (a view's, a reaction's, a vote's), which runs as
    its own transaction (``api.common.single_statement_writes``), as it is to commit.

    With ``asynchronous_commit`` (``Settings.asynchronous_counter_commits``) the statement
    sets ``synchronous_commit`` off for its own transaction, so its commit returns
    without waiting for its WAL to be flushed: the wait costs about as much as the
    statement, and a crash of the database server may lose only the last fraction of a
    second of counts (about three ``wal_writer_delay``), never their consistency. That is
    the trade SQLite's synchronous=NORMAL makes for every write. Being the transaction's
    own (``SET LOCAL``), the setting reaches no other transaction, behind a pooler too.
    """
    return _committed_asynchronously(statement) if asynchronous_commit else statement


@functools.cache
def _committed_asynchronously(statement: sa.Select[Any]) -> sa.Select[Any]:
    # A condition without columns: evaluated once (PostgreSQL's one-time filter), before
    # the commit; the statement's data-modifying CTEs run whatever it is.
    return statement.where(sa.func.set_config("synchronous_commit", "off", True).is_not(None))


def in_values(dialect: str, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
    """``column IN (...)`` over a list bound as the one parameter ``name``.

    The SQL text stays the same whatever the list's length, so its compiled form is
    cached like any other statement's; an expanding IN is rendered again on every
    execution (about 40 µs for 20 values). Both databases read the list as JSON text
    written by orjson. SQLite looks each value of ``json_each`` up in ``column``'s index;
    PostgreSQL makes an array of it and compares with ``= ANY``, the index scan it plans
    for a bound array: psycopg would write a bound list element by element in Python
    (about 30 µs for 20 keys, 120 for 100).
    """
    listed = sa.bindparam(name, type_=JSONList())
    if dialect == "postgresql":
        values = sa.func.jsonb_array_elements_text(sa.cast(listed, postgresql.JSONB)).table_valued("value")
        return column == sa.any_(sa.func.array(sa.select(sa.cast(values.c.value, column.type)).scalar_subquery()))
    values = sa.func.json_each(listed).table_valued("value")
    return column.in_(sa.select(values.c.value))


class JSONList(sa.types.TypeDecorator[Sequence[Any]]):
    """A list of keys or ids bound as JSON text, written by orjson: the standard library's
    encoder (``sa.JSON``'s) takes about 10 µs for the hundred keys of a counts request."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()


def insert_new(
    dialect: str, table: sa.Table, values: Mapping[str, Any], unique: Sequence[str],
    returning: Sequence[sa.ColumnElement[Any]] = (),
) -> sa.Insert:
    """INSERT ... ON CONFLICT (``unique``) DO NOTHING RETURNING ``returning`` (the new
    row's id by default): a row for the new row, or no row."""
    insert = DIALECT_INSERTS[dialect](table).values(**values)
    return insert.on_conflict_do_nothing(index_elements=list(unique)).returning(*(returning or (table.c.id,)))


class Rows:
    """What ``run`` answers for a statement it ran on the driver: the rows, read at once.

    The part of SQLAlchemy's ``CursorResult`` that callers use: iteration, ``all``,
    ``first``, ``one``, ``scalar``, ``scalar_one``, ``scalars`` and ``rowcount``. Rows are
    named tuples, so ``row.views`` and ``views, = row`` read as they do on SQLAlchemy's rows.
    """

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise sa.exc.MultipleResultsFound() if self._rows else sa.exc.NoResultFound()
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> "Rows":
        return Rows([row[0] for row in self._rows], self.rowcount)


@dataclass(frozen=True)
class _Plan:
    """A statement compiled once for one dialect and one set of parameter names."""

    sql: str
    positions: tuple[str, ...] | None  # the parameters' order (qmark), or None: passed by name
    fixed: dict[str, Any]  # values the statement carries itself (``views + 1``'s 1)
    bind: tuple[tuple[str, Callable[[Any], Any]], ...]  # (parameter, its type's processor)
    row: Callable[[Any], Any]  # tuple -> named row
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, its type's processor) where it has one


def _plan(statement: sa.Executable, dialect: Dialect, names: tuple[str, ...]) -> _Plan | None:
    """Compile ``statement`` as SQLAlchemy would for parameters ``names``; None when the SQL
    would have to be rendered again per execution, SQLAlchemy computes values (Python
    defaults) in its execution context, or the columns returned are not known before it
    runs (``text()``): those run on SQLAlchemy's own path."""
    if statement.get_execution_options():
        return None
    compiled = statement.compile(dialect=dialect, column_keys=sorted(names))
    if (
        compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names
        or compiled.insert_prefetch or compiled.update_prefetch
    ):
        return None
    fixed: dict[str, Any] = {}
    bind: dict[str, Callable[[Any], Any]] = {}  # a parameter used twice is processed once
    for parameter, name in compiled.bind_names.items():
        if name not in names:
            if parameter.required:
                return None  # SQLAlchemy's path raises its own error
            if parameter.callable is not None:
                return None  # its value is computed at each execution: SQLAlchemy's path does that
            fixed[name] = parameter.effective_value
        processor = parameter.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            bind[name] = processor
    exported = getattr(statement, "exported_columns", None)
    if exported is None:
        return None  # text(): what it returns is known only from the cursor
    columns = list(exported)
    try:
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
    except (TypeError, sa.exc.InvalidRequestError):
        # The processing depends on the column's type in the database, known only from
        # the cursor (psycopg's numbers, a float column's included): SQLAlchemy's path.
        return None
    results = tuple((index, processor) for index, processor in enumerate(processors) if processor is not None)
    row = collections.namedtuple("Row", [column.key for column in columns] or ["_0"], rename=True)._make  # type: ignore[misc]
    positions = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return _Plan(compiled.string, positions, fixed, tuple(bind.items()), row, results)


# Plans of the statements ``run`` has seen run more than once, per dialect and parameter names.
# Weak keys: a statement built for one call (an import's) takes its plans with it when it goes.
_PLANS: weakref.WeakKeyDictionary[sa.Executable, dict[tuple[str, tuple[str, ...]], _Plan | None]] = (
    weakref.WeakKeyDictionary()
)


def run(
    database: Database,
    statement: sa.Executable,
    parameters: Mapping[str, Any] | None = None,
    *,
    row: Callable[[Sequence[Any]], Any] | None = None,
) -> Any:
    """Execute a prebuilt Core statement on the connection, or on the session's (its transaction).

    SQLAlchemy spends about eight times what SQLite needs to run such a statement in
    Python around its execution (an execution context, a result object). A statement
    run a second time is one built to be reused: it is compiled once by SQLAlchemy, for
    the dialect and these parameter names, and from then on handed straight to the
    driver's cursor on the same connection and transaction, with the same type
    processing both ways; its answer is ``Rows``. Driver errors are raised as
    SQLAlchemy's (``IntegrityError``, ...), and a lost connection is invalidated as
    SQLAlchemy would. Lists of parameters (executemany), statements whose SQL changes
    per execution, and any connection with cursor-execution listeners (tests that count
    statements, SQL echo) take SQLAlchemy's own path and answer its ``CursorResult``.

    With ``row`` (a NamedTuple's ``_make``, say), each row is made by it instead, on
    either path, and the answer is always ``Rows``: a caller that reads many rows as its
    own type builds each once.
    """
    connection = database if isinstance(database, Connection) else database.connection()
    values = parameters or {}
    plan = _plan_for(connection, statement, values)
    if plan is None:
        result = connection.execute(statement, values)
        return result if row is None else Rows(list(map(row, result)), result.rowcount)
    return _execute(connection, plan, values, row or plan.row)


# How a service runs a write it is given: ``run`` (now) or ``at_commit`` (with the commit,
# which needs the session). The first argument is the service's ``Database``.
Write = Callable[[Any, sa.Executable, Mapping[str, Any]], Any]
Writes = list[tuple[sa.Executable, Mapping[str, Any]]]
_AT_COMMIT = "engagement.writes_at_commit"  # where at_commit keeps them (Session.info)


def at_commit(session: Session, statement: sa.Executable, parameters: Mapping[str, Any]) -> None:
    """Run ``statement``, a write whose answer nobody reads, when ``session`` commits,
    after everything else the transaction wrote.

    For counters that every write to an article updates (its comment count and version,
    the hour's trending bucket): a row a transaction updates stays locked until it
    commits, so a counter updated early keeps every other comment on the article waiting
    through the rest of the transaction's round trips and Python. The request's commit
    on PostgreSQL sends these writes and its COMMIT together, in one round trip
    (``send_without_answers``, ``extensions.finish_request_transaction``); any other
    commit of the session runs them just before it (``_run_writes_at_commit``); a
    rollback drops them.
    """
    session.info.setdefault(_AT_COMMIT, []).append((statement, parameters))


def has_writes_at_commit(session: Session) -> bool:
    return bool(session.info.get(_AT_COMMIT))


def take_writes_at_commit(session: Session) -> Writes:
    """The writes ``at_commit`` queued on ``session``, now the caller's to run."""
    return cast(Writes, session.info.pop(_AT_COMMIT, []))


@sa.event.listens_for(Session, "before_commit")
def _run_writes_at_commit(session: Session) -> None:
    writes = take_writes_at_commit(session)
    if writes:
        session.flush()  # they come after everything else the transaction wrote
        for statement, parameters in writes:
            run(session, statement, parameters)


@sa.event.listens_for(Session, "after_rollback")
def _drop_writes_at_commit(session: Session) -> None:
    take_writes_at_commit(session)


def can_send_without_answers(connection: Connection) -> bool:
    """Whether ``send_without_answers`` can pipeline writes on ``connection``: psycopg's,
    with nothing watching its statements (SQL echo, a test's listener), which would see
    them only on SQLAlchemy's own path (``run``)."""
    return connection.dialect.driver == "psycopg" and not connection.engine.echo and not _watched(connection)


def send_without_answers(connection: Connection, writes: Writes) -> None:
    """Execute ``writes`` on the driver's cursor without reading their answers.

    In psycopg's pipeline mode nothing waits for the database here: the writes travel
    with what follows them (the COMMIT) and a failure is raised where that is answered.
    """
    dialect = connection.dialect
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    for statement, parameters in writes:
        key = tuple(parameters)
        plans = _PLANS.setdefault(statement, {})
        plan = plans[key] if key in plans else plans.setdefault(key, _plan(statement, dialect, key))
        if plan is None:
            raise TypeError(f"not a prebuilt statement, cannot be sent without its answer: {statement}")
        cursor.execute(plan.sql, _bound(plan, parameters))


def _plan_for(connection: Connection, statement: sa.Executable, values: Any) -> _Plan | None:
    """The plan ``run`` hands to the driver, or None: SQLAlchemy's own path runs it."""
    if not isinstance(values, Mapping):
        return None
    plans = _PLANS.get(statement)
    if plans is None:
        _PLANS[statement] = {}  # seen once: planned if it runs again
        return None
    if connection.engine.echo or _watched(connection):
        return None
    dialect = connection.dialect
    key = (dialect.name, tuple(values))
    try:
        return plans[key]
    except KeyError:
        plan = plans[key] = _plan(statement, dialect, key[1])
        return plan


def _watched(connection: Connection) -> bool:
    # SQLAlchemy's own test before it dispatches any event: no listener on the connection
    # or its engine (the usual case) answers without building the dispatch lists (~1 µs).
    if not (connection._has_events or connection.engine._has_events):
        return False
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _bound(plan: _Plan, parameters: Mapping[str, Any]) -> Any:
    """The parameters as the driver takes them: processed by their types, in the plan's order."""
    values = {**plan.fixed, **parameters} if plan.fixed else dict(parameters)
    for name, processor in plan.bind:
        values[name] = processor(values[name])
    return [values[name] for name in plan.positions] if plan.positions is not None else values


def _execute(
    connection: Connection, plan: _Plan, parameters: Mapping[str, Any], make_row: Callable[[Any], Any]
) -> Rows:
    if not connection.in_transaction():
        connection.begin()  # as SQLAlchemy's autobegin: the request's commit or rollback covers it
    bound = _bound(plan, parameters)
    dialect = connection.dialect
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(plan.sql, bound)
        fetched = cursor.fetchall() if cursor.description else []
        rowcount = cursor.rowcount
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, dbapi_connection, cursor)
        cursor.close()
        if lost:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(
            plan.sql, bound, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
        ) from error
    cursor.close()
    if not plan.results:
        return Rows(list(map(make_row, fetched)), rowcount)
    rows = []
    for values_read in fetched:
        row = list(values_read)
        for index, process in plan.results:
            row[index] = process(row[index])
        rows.append(make_row(row))
    return Rows(rows, rowcount)


# What insert_loaded does with a column the new object leaves unset, besides using its
# scalar Python default (or NULL): leave it to the database, or refuse.
_SERVER_DEFAULT = object()
_CALLABLE_DEFAULT = object()


@functools.cache
def _insert_plan(mapper: Mapper[Any]) -> tuple[sa.Insert, tuple[tuple[str, str, Any], ...]]:
    """The INSERT of ``mapper``'s table and, per column, (attribute, column, default)."""
    plan = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key:
            continue
        if column.default is None:
            default = _SERVER_DEFAULT if column.server_default is not None else None
        else:
            default = column.default.arg if column.default.is_scalar else _CALLABLE_DEFAULT
        plan.append((attribute.key, column.key, default))
    table = mapper.local_table
    return sa.insert(table).returning(table.c.id), tuple(plan)


def insert_loaded(session: Session, instance: Any) -> None:
    """Insert a new ORM object with one prebuilt INSERT and put it in the session as loaded.

    What the unit of work does for ``session.add(instance); session.flush()``, for a new
    row that needs no cascades, at a fraction of the cost: on a comment, about 80 µs
    against 370 µs on SQLite. Columns the object leaves unset take their scalar Python
    default, on the object too, so it reads as a row just loaded (a column with only a
    server default is left to the database and expired on the object). The object then
    belongs to the session like any loaded one: later changes to it flush as UPDATEs.
    """
    state = sa.inspect(instance)
    insert, plan = _insert_plan(state.mapper)
    given = state.dict
    values: dict[str, Any] = {}
    for attribute, column, default in plan:
        if attribute not in given:
            if default is _SERVER_DEFAULT:
                continue
            if default is _CALLABLE_DEFAULT:
                raise ValueError(f"{type(instance).__name__}.{attribute}: only scalar defaults are applied here")
            setattr(instance, attribute, default)
        values[column] = given[attribute]
    instance.id = run(session, insert, values).scalar_one()
    make_transient_to_detached(instance)
    session.add(instance)
