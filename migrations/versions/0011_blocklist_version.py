"""blocklist version: a site setting that names the current blocklist

Every edit of the blocklist writes a new random version (site_settings.blocklist_version),
and a comment reads that one row instead of the whole list, which each worker keeps until
the version changes (engagement/services/blocklist.py). A site whose list was never edited
has no version and an empty list; a list stored before this revision gets its first
version here. No schema change.

Revision ID: 0011
Revises: 0010
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

VERSION_SETTING = 'blocklist_version'


def upgrade():
    op.get_bind().execute(
        sa.text(
            # Typed in the select list: PostgreSQL cannot infer an untyped parameter there.
            "INSERT INTO site_settings (name, value) SELECT CAST(:name AS VARCHAR(64)), CAST(:value AS VARCHAR(200)) "
            "WHERE EXISTS (SELECT 1 FROM blocked_words) "
            "AND NOT EXISTS (SELECT 1 FROM site_settings WHERE name = :name)"
        ),
        {"name": VERSION_SETTING, "value": secrets.token_hex(16)},
    )


def downgrade():
    op.get_bind().execute(sa.text("DELETE FROM site_settings WHERE name = :name"), {"name": VERSION_SETTING})
