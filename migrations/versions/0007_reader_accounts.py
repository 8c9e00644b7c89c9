"""reader accounts: readers signed in with the site's own accounts (SSO)

- reader_accounts: the profile the site's token carried, keyed by the reader hash of
  ``sso:<sub>`` (the subject itself is not stored).
- comments.avatar_url / verified: a signed-in author's avatar from the token, and the
  verified mark.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reader_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reader_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=True),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('avatar_url', sa.String(length=2000), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('signed_in_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reader_accounts')),
        sa.UniqueConstraint('reader_hash', name=op.f('uq_reader_accounts_reader_hash')),
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('avatar_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('verified', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('verified')
        batch_op.drop_column('avatar_url')
    op.drop_table('reader_accounts')
