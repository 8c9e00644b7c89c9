"""Seeing the SQL a request runs: the statements sent to the database, in order."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask

from engagement.extensions import db


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[str]]:
    """The text of every statement the app's engine executes inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
