"""article reaction counts: each article's reaction totals as one JSON object, kept by the database

articles.reaction_counts holds {kind: count} for the article, rewritten by triggers on
reaction_totals whenever a total changes (engagement/models/triggers.py), so counts for a
listing read one row per article. Filled here from the totals already stored.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

from engagement.models import triggers


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite has both since 3.35): a batch operation would
# copy articles into a new table, which SQLite refuses while triggers name it.
def upgrade():
    op.add_column('articles', sa.Column('reaction_counts', sa.Text(), nullable=True))
    connection = op.get_bind()
    connection.exec_driver_sql(triggers.FILL_REACTION_COUNTS[connection.dialect.name])
    triggers.execute(connection, triggers.TOTAL_TRIGGERS)


def downgrade():
    connection = op.get_bind()
    triggers.execute(connection, triggers.TOTAL_TRIGGER_DROPS)
    connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN reaction_counts")
