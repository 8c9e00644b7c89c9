"""Statements on the hot paths: built once per database dialect, run with parameters.

Building a SQLAlchemy statement (coercing every operand, then deriving its cache key at
each execution) costs several times what SQLite needs to run it. The statements that
every view, reaction, vote and comment runs are therefore Core statements on the tables,
built once (per dialect where the SQL differs) with their values as bound parameters:
their compiled form is cached on first use and each later execution only binds values.

They run on the session's connection, inside the request's transaction, without the
ORM's execute layer. So they neither flush pending ORM objects nor refresh loaded ones:
callers use them where the session holds no pending change to the rows they touch, and
reload what they read afterwards (the request's commit expires every loaded object).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# INSERT constructs that support ON CONFLICT, per dialect name.
DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

Built = TypeVar("Built", bound=sa.Executable)


def dialect_name(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in DIALECT_INSERTS:
        raise RuntimeError(f"unsupported database dialect: {name}")
    return name


def per_dialect(build: Callable[[str], Built]) -> Callable[[Session], Built]:
    """Turn ``build(dialect_name)`` into ``statement(session)``, building once per dialect."""
    built = functools.cache(build)

    @functools.wraps(build)
    def statement(session: Session) -> Built:
        return built(dialect_name(session))

    return statement


def insert_new(dialect: str, table: sa.Table, values: Mapping[str, Any], unique: Sequence[str]) -> sa.Insert:
    """INSERT ... ON CONFLICT (``unique``) DO NOTHING RETURNING id: the new row's id, or no row."""
    insert = DIALECT_INSERTS[dialect](table).values(**values)
    return insert.on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)


def run(session: Session, statement: sa.Executable, parameters: Mapping[str, Any] | None = None) -> sa.CursorResult[Any]:
    """Execute a prebuilt Core statement on the session's connection (its transaction)."""
    return session.connection().execute(statement, parameters or {})
