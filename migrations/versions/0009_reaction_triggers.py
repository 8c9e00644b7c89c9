"""reaction triggers: the database keeps reaction totals, article versions and trending in step

A reaction stored or deleted changes its kind's total, its article's version and the
trending bucket of its hour in the same statement (engagement/models/triggers.py holds
the definitions, which create_all uses too). Existing totals already match the rows:
nothing to backfill.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

from engagement.models import triggers


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

def upgrade():
    triggers.execute(op.get_bind(), triggers.REACTION_TRIGGERS)


def downgrade():
    triggers.execute(op.get_bind(), triggers.REACTION_TRIGGER_DROPS)
