"""abuse resistance: comment revisions, independent flags, restorable ban purges

- comments.revision / approved_revision: the version of the text, and the version a
  moderator vouched for (flags never hold it); comments.edited_by: author or moderator.
- comment_revisions: the previous text of every edit, written with the edit.
- flags.revision (one flag per reader per version), network_hash and weight (flags from
  one network count once; fresh readers weigh less).
- ban_purged_comments: what a ban's purge rejected, so lifting the ban can restore it.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from engagement.models.base import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('comment_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('edited_at', UTCDateTime(), nullable=False),
    sa.Column('editor', sa.Enum('author', 'moderator', name='editor', native_enum=False, length=16), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=True),
    sa.Column('replaced_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_revisions_comment_id_comments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_revisions')),
    sa.UniqueConstraint('comment_id', 'revision', name=op.f('uq_comment_revisions_comment_id_revision'))
    )
    op.create_table('ban_purged_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ban_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('previous_status', sa.Enum('pending', 'approved', 'rejected', 'spam', 'deleted', name='commentstatus', native_enum=False, length=16), nullable=False),
    sa.Column('previous_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['ban_id'], ['bans.id'], name=op.f('fk_ban_purged_comments_ban_id_bans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_ban_purged_comments_comment_id_comments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ban_purged_comments')),
    sa.UniqueConstraint('ban_id', 'comment_id', name=op.f('uq_ban_purged_comments_ban_id_comment_id'))
    )
    with op.batch_alter_table('ban_purged_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ban_purged_comments_comment_id'), ['comment_id'], unique=False)

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edited_by', sa.Enum('author', 'moderator', name='editor', native_enum=False, length=16), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('approved_revision', sa.Integer(), nullable=True))

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('network_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('weight', sa.SmallInteger(), server_default='2', nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_flags_comment_id_reader_hash'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_flags_comment_id_reader_hash_revision'), ['comment_id', 'reader_hash', 'revision'])



def downgrade():
    # One flag per reader and comment again: repeat flags on later versions go.
    op.execute("DELETE FROM flags WHERE revision > 1")
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_flags_comment_id_reader_hash_revision'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_flags_comment_id_reader_hash'), ['comment_id', 'reader_hash'])
        batch_op.drop_column('weight')
        batch_op.drop_column('network_hash')
        batch_op.drop_column('revision')

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('approved_revision')
        batch_op.drop_column('revision')
        batch_op.drop_column('edited_by')

    with op.batch_alter_table('ban_purged_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ban_purged_comments_comment_id'))

    op.drop_table('ban_purged_comments')
    op.drop_table('comment_revisions')
