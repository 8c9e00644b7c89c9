"""The Alembic history creates exactly what the models declare, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from engagement.extensions import db, enable_migrations
from engagement.models import Base
from tests.factories import post_comment


@pytest.fixture
def fresh_database_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database of the same kind as the suite's: a new file, or a new PostgreSQL database."""
    if not database_url.startswith("postgresql"):
        yield "sqlite:///" + str(tmp_path / "migrated.db")
        return
    name = "engagement_migrations_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def triggers_of(connection: sa.Connection) -> list[tuple[str, str]]:
    """(name, definition) of every trigger, and on PostgreSQL of every function they call."""
    if connection.dialect.name == "sqlite":
        return [tuple(row) for row in connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        )]
    return [tuple(row) for row in connection.exec_driver_sql(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
        "UNION ALL SELECT DISTINCT proname, pg_get_functiondef(pg_proc.oid) FROM pg_proc "
        "JOIN pg_trigger ON pg_trigger.tgfoid = pg_proc.oid WHERE NOT tgisinternal "
        "ORDER BY 1, 2"
    )]


def functions_of(connection: sa.Connection) -> list[str]:
    """The functions of the public schema (PostgreSQL; SQLite has none)."""
    if connection.dialect.name == "sqlite":
        return []
    return list(connection.exec_driver_sql(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
    ).scalars())


def keys_of(connection: sa.Connection) -> dict[str, tuple[list[str], bool]]:
    """Each table's primary key columns, in order, and whether SQLite stores it WITHOUT ROWID.

    Alembic's comparison leaves primary keys and table options out.
    """
    inspector = sa.inspect(connection)
    without_rowid = set()
    if connection.dialect.name == "sqlite":
        without_rowid = {name for name, sql in connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ) if sql.rstrip().upper().endswith("WITHOUT ROWID")}
    return {
        table: (inspector.get_pk_constraint(table)["constrained_columns"], table in without_rowid)
        for table in inspector.get_table_names() if table != "alembic_version"
    }


def test_migrations_match_the_models(app_factory, fresh_database_url, schema):
    app = app_factory(SQLALCHEMY_DATABASE_URI=fresh_database_url)
    enable_migrations(app)
    with schema.connect() as connection:
        created = triggers_of(connection)  # what Base.metadata.create_all made for the suite
        created_keys = keys_of(connection)
    assert [name for name, _ in created] != []
    assert created_keys["activity_buckets"] == (["hour", "article_id"], not schema.dialect.name == "postgresql")
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            migrated = triggers_of(connection)
            migrated_keys = keys_of(connection)
        assert diff == [], f"models and migrations differ: {diff}"
        assert migrated == created
        assert migrated_keys == created_keys

        downgrade(revision="base")
        with db.engine.connect() as connection:
            remaining = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
            assert (triggers_of(connection), functions_of(connection)) == ([], [])
        assert remaining == set()
        upgrade()  # and back up again: the downgrade left a clean slate


def _stored_at_revision(revision: str, *inserts: str) -> None:
    """Upgrade the app's database to ``revision`` and store rows as that schema held them."""
    upgrade(revision=revision)
    with db.engine.begin() as connection:
        for insert in inserts:
            connection.execute(sa.text(insert))


def test_the_reaction_counts_migration_fills_them_from_the_stored_totals(app_factory, fresh_database_url):
    app = app_factory(SQLALCHEMY_DATABASE_URI=fresh_database_url)
    enable_migrations(app)
    with app.app_context():
        _stored_at_revision(
            "0009",
            "INSERT INTO articles (id, key, created_at, updated_at) VALUES "
            "(1, 'reacted', '2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
            "(2, 'quiet', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            "INSERT INTO reaction_totals (article_id, kind, count) VALUES (1, 'like', 3), (1, 'sad', 1)",
        )
        upgrade()
        with db.engine.begin() as connection:
            stored = dict(connection.execute(sa.text("SELECT key, reaction_counts FROM articles")).all())
            assert (json.loads(stored["reacted"]), stored["quiet"]) == ({"like": 3, "sad": 1}, None)
            # From now on the database keeps them (models.triggers).
            connection.execute(sa.text("UPDATE reaction_totals SET count = 4 WHERE kind = 'like'"))
            connection.execute(sa.text("INSERT INTO reaction_totals (article_id, kind, count) VALUES (2, 'love', 1)"))
            stored = dict(connection.execute(sa.text("SELECT key, reaction_counts FROM articles")).all())
        assert (json.loads(stored["reacted"]), json.loads(stored["quiet"])) == ({"like": 4, "sad": 1}, {"love": 1})


def test_rekeying_the_buckets_by_hour_keeps_them_and_the_reaction_triggers(app_factory, fresh_database_url):
    """Buckets stored before 0012 survive it and its downgrade; a reaction still counts in its hour's bucket."""
    app = app_factory(SQLALCHEMY_DATABASE_URI=fresh_database_url)
    enable_migrations(app)
    buckets = sa.text("SELECT views, comments, reactions FROM activity_buckets ORDER BY hour")
    react = sa.text(
        "INSERT INTO reactions (article_id, reader_hash, kind, created_at) VALUES (1, :reader, 'like', :at)"
    )
    with app.app_context():
        _stored_at_revision(
            "0011",
            "INSERT INTO articles (id, key, created_at, updated_at) "
            "VALUES (1, 'story', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            "INSERT INTO activity_buckets (article_id, hour, views, comments, reactions) VALUES "
            "(1, '2026-01-01 10:00:00.000000', 5, 1, 2), (1, '2026-01-01 11:00:00.000000', 1, 0, 0)",
        )
        upgrade()
        with db.engine.begin() as connection:
            assert keys_of(connection)["activity_buckets"][0] == ["hour", "article_id"]
            connection.execute(react, {"reader": "a" * 64, "at": "2026-01-01 11:30:00.000000"})
            assert connection.execute(buckets).all() == [(5, 1, 2), (1, 0, 1)]
        downgrade(revision="0011")
        with db.engine.begin() as connection:
            assert keys_of(connection)["activity_buckets"] == (["article_id", "hour"], False)
            connection.execute(react, {"reader": "b" * 64, "at": "2026-01-01 10:05:00.000000"})
            assert connection.execute(buckets).all() == [(5, 1, 3), (1, 0, 1)]


def test_the_blocklist_version_migration_names_a_stored_list(app_factory, fresh_database_url):
    """A list stored before the version existed gets one (and is screened); an empty one does not."""
    app = app_factory(SQLALCHEMY_DATABASE_URI=fresh_database_url)
    enable_migrations(app)
    version = sa.text("SELECT value FROM site_settings WHERE name = 'blocklist_version'")
    with app.app_context():
        upgrade(revision="0010")
        upgrade()
        with db.engine.connect() as connection:
            assert connection.execute(version).all() == []
        downgrade(revision="0010")
        with db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO blocked_words (word, normalized) VALUES ('bad', 'bad')"))
        upgrade()
        with db.engine.connect() as connection:
            assert len(connection.execute(version).scalar_one()) == 32
    assert post_comment(app.test_client(), body="bad")["status"] == "pending"
    with app.app_context():
        downgrade(revision="0010")
        with db.engine.connect() as connection:
            assert connection.execute(version).all() == []


def test_the_db_commands_load_flask_migrate_when_asked_for(app_factory, fresh_database_url):
    """create_app leaves Flask-Migrate out (tests/test_layers.py); `flask db ...` still works."""
    app = app_factory(SQLALCHEMY_DATABASE_URI=fresh_database_url)
    assert "migrate" not in app.extensions
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["db", "--help"])
    assert listed.exit_code == 0 and "upgrade" in listed.output and "downgrade" in listed.output
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context(), db.engine.connect() as connection:
        assert {"articles", "comments", "alembic_version"} <= set(sa.inspect(connection).get_table_names())
    assert runner.invoke(args=["db", "no-such-command"]).exit_code == 2


def test_sqlite_connections_use_wal_and_safe_pragmas(app_factory, tmp_path, database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("SQLite PRAGMAs")
    app = app_factory(SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "pragmas.db"), SQLITE_BUSY_TIMEOUT_MS=4321)
    with app.app_context(), db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 4321


def _kill_pooled_connection(app, database_url):
    """Terminate, from outside, the server process behind the app's pooled connection."""
    with app.app_context():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        db.session.commit()
        db.session.remove()
    outside = sa.create_engine(database_url, poolclass=sa.NullPool)
    with outside.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    outside.dispose()


def test_postgresql_idle_connections_are_checked_before_use(app_factory, database_url, monkeypatch):
    """A pooled connection idle past the threshold is pinged, and replaced when dead."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL pool settings")
    import engagement

    monkeypatch.setattr(engagement, "IDLE_PING_SECONDS", 0.0)
    app = app_factory()
    _kill_pooled_connection(app, database_url)
    assert app.test_client().get("/readyz").status_code == 200  # no request saw the dead one


def test_postgresql_a_pinged_connection_serves_reads_and_writes(app_factory, database_url, monkeypatch):
    """The ping leaves no transaction open: a read-only request (autocommit) and a write
    both get the pinged connection and succeed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL pool settings")
    import engagement

    monkeypatch.setattr(engagement, "IDLE_PING_SECONDS", 0.0)
    client = app_factory().test_client()
    for _ in range(3):  # the first checkout is a new connection; the later ones are pinged
        assert client.get("/api/v1/counts?articles=pinged").status_code == 200
        assert client.post("/api/v1/articles/pinged/views", headers={"User-Agent": "Mozilla/5.0"}).status_code == 202
        assert client.get("/api/v1/articles/pinged/comments").status_code == 200


def test_postgresql_busy_connections_are_not_pinged(app_factory, database_url):
    """A connection used moments ago goes out unchecked; if it died meanwhile, one request
    fails cleanly (503) and the pool replaces its connections for the next."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL pool settings")
    app = app_factory()
    _kill_pooled_connection(app, database_url)
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 200