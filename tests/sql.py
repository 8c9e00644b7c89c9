"""Seeing the SQL a request runs: the statements sent to the database, in order."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from engagement.extensions import db


@contextmanager
def engine_listening(app: Flask, event_name: str, listener: Callable[..., None]) -> Iterator[None]:
    """``listener`` on the app's engine for ``event_name`` (e.g. ``before_cursor_execute``) inside the block."""
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, event_name, listener)
    try:
        yield
    finally:
        sa.event.remove(engine, event_name, listener)


@contextmanager
def _listening(app: Flask, record: Callable[[str, Any], None]) -> Iterator[None]:
    def listener(_connection: object, _cursor: object, statement: str, parameters: Any, *_args: object) -> None:
        record(statement, parameters)

    with engine_listening(app, "before_cursor_execute", listener):
        yield


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[str]]:
    """The text of every statement the app's engine executes inside the block."""
    statements: list[str] = []
    with _listening(app, lambda statement, _parameters: statements.append(statement)):
        yield statements


@contextmanager
def statements_with_parameters(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app's engine executes inside the block, with the parameters sent."""
    executed: list[tuple[str, Any]] = []
    with _listening(app, lambda statement, parameters: executed.append((statement, parameters))):
        yield executed


def sqlite_query_plan(app: Flask, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan for ``statement`` (EXPLAIN QUERY PLAN), one line per step."""
    with app.app_context(), db.engine.connect() as connection:
        return [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
