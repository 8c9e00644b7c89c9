"""What the database keeps in step by itself: the bookkeeping of reactions.

A reaction stored or withdrawn, by the API, by a reader's erasure or by any other
statement, changes in the same statement, through these triggers:

- its article's ``version`` (the HTTP validators of everything that shows it),
- its kind's total in ``reaction_totals``,
- the trending bucket of the hour the reaction was given (never below zero; nothing
  once that hour was pruned).

Any change to ``reaction_totals`` (the trigger above, or the importer's totals) rewrites
its article's ``reaction_counts``: the article's totals as one JSON object, so a listing's
counts read one row per article instead of aggregating its totals on every request.

So the totals cannot drift from the rows whatever path deletes them, and a reaction
costs one statement instead of four: on PostgreSQL, three round trips fewer. The
article is updated first, as the service did by hand before, so the order in which a
reaction locks rows is unchanged.

The same definitions are created by ``Base.metadata.create_all`` (``install``) and by
the migration that introduced them; tests/test_migrations.py holds the two equal.
"""
from __future__ import annotations

import sqlalchemy as sa

# SQLite keeps a moment as text in SQLAlchemy's format (models.base); its hour is the
# same text with the minutes, seconds and microseconds zeroed.
_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {moment})"


# Per table, per dialect: the statements that create its triggers, and those that drop
# them (a migration's downgrade; a dropped table takes its triggers, not its functions).
REACTION_TRIGGERS = {
    "sqlite": (
        f"""CREATE TRIGGER reactions_counted AFTER INSERT ON reactions
    BEGIN
        UPDATE articles SET version = version + 1 WHERE id = NEW.article_id;
        INSERT INTO reaction_totals (article_id, kind, count) VALUES (NEW.article_id, NEW.kind, 1)
            ON CONFLICT (article_id, kind) DO UPDATE SET count = count + 1;
        INSERT INTO activity_buckets (article_id, hour, views, comments, reactions)
            VALUES (NEW.article_id, {_SQLITE_HOUR.format(moment="NEW.created_at")}, 0, 0, 1)
            ON CONFLICT (article_id, hour) DO UPDATE SET reactions = reactions + 1;
    END""",
        f"""CREATE TRIGGER reactions_uncounted AFTER DELETE ON reactions
    BEGIN
        UPDATE articles SET version = version + 1 WHERE id = OLD.article_id;
        UPDATE reaction_totals SET count = count - 1 WHERE article_id = OLD.article_id AND kind = OLD.kind;
        UPDATE activity_buckets SET reactions = reactions - 1
            WHERE article_id = OLD.article_id AND hour = {_SQLITE_HOUR.format(moment="OLD.created_at")}
                AND reactions >= 1;
    END""",
    ),
    "postgresql": (
        """CREATE OR REPLACE FUNCTION reactions_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE articles SET version = version + 1 WHERE id = NEW.article_id;
            INSERT INTO reaction_totals (article_id, kind, count) VALUES (NEW.article_id, NEW.kind, 1)
                ON CONFLICT (article_id, kind) DO UPDATE SET count = reaction_totals.count + 1;
            INSERT INTO activity_buckets (article_id, hour, views, comments, reactions)
                VALUES (NEW.article_id, date_trunc('hour', NEW.created_at), 0, 0, 1)
                ON CONFLICT (article_id, hour) DO UPDATE SET reactions = activity_buckets.reactions + 1;
        ELSE
            UPDATE articles SET version = version + 1 WHERE id = OLD.article_id;
            UPDATE reaction_totals SET count = count - 1 WHERE article_id = OLD.article_id AND kind = OLD.kind;
            UPDATE activity_buckets SET reactions = reactions - 1
                WHERE article_id = OLD.article_id AND hour = date_trunc('hour', OLD.created_at) AND reactions >= 1;
        END IF;
        RETURN NULL;
    END
    $$""",
        """CREATE TRIGGER reactions_counted AFTER INSERT OR DELETE ON reactions
        FOR EACH ROW EXECUTE FUNCTION reactions_counted()""",
    ),
}
REACTION_TRIGGER_DROPS = {
    "sqlite": ("DROP TRIGGER IF EXISTS reactions_counted", "DROP TRIGGER IF EXISTS reactions_uncounted"),
    "postgresql": ("DROP TRIGGER IF EXISTS reactions_counted ON reactions", "DROP FUNCTION IF EXISTS reactions_counted()"),
}

# The article's totals as one JSON object ({} or NULL when it has none).
_SQLITE_REACTION_COUNTS = """UPDATE articles SET reaction_counts = (
        SELECT json_group_object(kind, count) FROM reaction_totals WHERE article_id = {article})
        WHERE id = {article};"""
_TOTAL_TRIGGER_EVENTS = (("written", "INSERT", "NEW"), ("changed", "UPDATE OF count", "NEW"), ("dropped", "DELETE", "OLD"))

TOTAL_TRIGGERS = {
    "sqlite": tuple(
        f"""CREATE TRIGGER reaction_totals_{name} AFTER {event} ON reaction_totals
    BEGIN
        {_SQLITE_REACTION_COUNTS.format(article=f"{row}.article_id")}
    END"""
        for name, event, row in _TOTAL_TRIGGER_EVENTS
    ),
    "postgresql": (
        """CREATE OR REPLACE FUNCTION reaction_totals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed_article integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.article_id ELSE NEW.article_id END;
    BEGIN
        UPDATE articles SET reaction_counts = (
            SELECT json_object_agg(kind, count)::text FROM reaction_totals WHERE article_id = changed_article)
            WHERE id = changed_article;
        RETURN NULL;
    END
    $$""",
        """CREATE TRIGGER reaction_totals_changed AFTER INSERT OR DELETE OR UPDATE OF count ON reaction_totals
        FOR EACH ROW EXECUTE FUNCTION reaction_totals_changed()""",
    ),
}
TOTAL_TRIGGER_DROPS = {
    "sqlite": tuple(f"DROP TRIGGER IF EXISTS reaction_totals_{name}" for name, _, _ in _TOTAL_TRIGGER_EVENTS),
    "postgresql": (
        "DROP TRIGGER IF EXISTS reaction_totals_changed ON reaction_totals",
        "DROP FUNCTION IF EXISTS reaction_totals_changed()",
    ),
}
# What a migration runs to fill ``reaction_counts`` from the totals already stored.
FILL_REACTION_COUNTS = {
    "sqlite": "UPDATE articles SET reaction_counts = (SELECT json_group_object(kind, count) FROM reaction_totals "
              "WHERE article_id = articles.id) WHERE id IN (SELECT article_id FROM reaction_totals)",
    "postgresql": "UPDATE articles SET reaction_counts = (SELECT json_object_agg(kind, count)::text FROM reaction_totals "
                  "WHERE article_id = articles.id) WHERE id IN (SELECT article_id FROM reaction_totals)",
}


def install(table: sa.Table, triggers: dict[str, tuple[str, ...]]) -> None:
    """Create ``triggers`` with ``table`` (``create_all``), each dialect's its own.

    The tables they write need not exist yet: both databases resolve a trigger's
    statements when it fires.
    """
    for dialect, statements in triggers.items():
        for statement in statements:
            # DDL formats its text with %: the hour's format must reach the database as written.
            ddl = sa.DDL(statement.replace("%", "%%")).execute_if(dialect=dialect)
            sa.event.listen(table, "after_create", ddl)


def execute(connection: sa.Connection, statements: dict[str, tuple[str, ...]]) -> None:
    """Run the connection's dialect's ``statements`` (a migration creating or dropping triggers)."""
    for statement in statements[connection.dialect.name]:
        connection.exec_driver_sql(statement)
