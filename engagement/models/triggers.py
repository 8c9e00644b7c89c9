"""What the database keeps in step by itself: the bookkeeping of reactions.

A reaction stored or withdrawn, by the API, by a reader's erasure or by any other
statement, changes in the same statement, through these triggers:

- its article's ``version`` (the HTTP validators of everything that shows it),
- its kind's total in ``reaction_totals``,
- the trending bucket of the hour the reaction was given (never below zero; nothing
  once that hour was pruned).

So the totals cannot drift from the rows whatever path deletes them, and a reaction
costs one statement instead of four: on PostgreSQL, three round trips fewer. The
article is updated first, as the services did by hand before, so the order in which
a reaction locks rows is unchanged.

The same definitions are created by ``Base.metadata.create_all`` (``install``) and by
the migration that introduced them; tests/test_migrations.py holds the two equal.
"""
from __future__ import annotations

import sqlalchemy as sa

# SQLite keeps a moment as text in SQLAlchemy's format (models.base); its hour is the
# same text with the minutes, seconds and microseconds zeroed.
_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {moment})"

SQLITE_TRIGGERS = (
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
)

POSTGRESQL_TRIGGERS = (
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
)

# What dropping them takes (the migration's downgrade); a dropped table takes its triggers.
SQLITE_DROPS = ("DROP TRIGGER IF EXISTS reactions_counted", "DROP TRIGGER IF EXISTS reactions_uncounted")
POSTGRESQL_DROPS = (
    "DROP TRIGGER IF EXISTS reactions_counted ON reactions",
    "DROP FUNCTION IF EXISTS reactions_counted()",
)


def install(reactions: sa.Table) -> None:
    """Create the triggers with the ``reactions`` table (``create_all``), per dialect.

    The tables they write (articles, reaction_totals, activity_buckets) need not exist
    yet: both databases resolve a trigger's statements when it fires.
    """
    for dialect, statements in (("sqlite", SQLITE_TRIGGERS), ("postgresql", POSTGRESQL_TRIGGERS)):
        for statement in statements:
            # DDL formats its text with %: the hour's format must reach the database as written.
            ddl = sa.DDL(statement.replace("%", "%%")).execute_if(dialect=dialect)
            sa.event.listen(reactions, "after_create", ddl)
