"""imported comments: where each came from, and the format of its source

- comments.import_source / import_id: the source ("disqus", "wordpress", "isso", "json")
  and the comment's id there, unique together, so importing a file twice adds nothing.
- comments.body_format: "markdown" (every comment so far) or "html" (imported from
  Disqus or WordPress), so `engagement rerender` renders each source the right way.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_format', sa.Enum('markdown', 'html', name='bodyformat', native_enum=False, length=16), server_default='markdown', nullable=False))
        batch_op.add_column(sa.Column('import_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('import_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_comments_import_source_import_id'), ['import_source', 'import_id'])


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_comments_import_source_import_id'), type_='unique')
        batch_op.drop_column('import_id')
        batch_op.drop_column('import_source')
        batch_op.drop_column('body_format')
