"""Extensions, created unbound here and bound to an app in ``create_app``."""
from __future__ import annotations

import sqlite3

from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from engagement.models.base import Base


class EngagementApi(Api):
    """flask-smorest's Api without its own error handlers: ``engagement.errors`` owns the envelope."""

    def _register_error_handlers(self) -> None:
        return None


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = EngagementApi()
cors = CORS()


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the per-connection PRAGMAs that make SQLite safe and fast for several workers.

    WAL lets readers run beside one writer; synchronous=NORMAL is durable in WAL mode
    except for the last transactions on power loss; the busy timeout makes a writer
    wait for the lock instead of failing at once.
    """

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
