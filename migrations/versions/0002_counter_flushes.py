"""counter flushes: batches of Redis view increments already applied to SQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:47:13.324784

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('counter_flushes',
    sa.Column('flush_id', sa.String(length=64), nullable=False),
    sa.Column('applied_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('flush_id', name=op.f('pk_counter_flushes'))
    )
    with op.batch_alter_table('counter_flushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_flushes_applied_at'), ['applied_at'], unique=False)


def downgrade():
    with op.batch_alter_table('counter_flushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_flushes_applied_at'))

    op.drop_table('counter_flushes')
