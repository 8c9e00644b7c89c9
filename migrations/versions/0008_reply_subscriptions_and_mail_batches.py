"""reply subscriptions and mail batches: reply e-mails and moderator digests

- reply_subscriptions: a comment's author asked for reply mails (address as typed, its
  keyed hash, when confirmed; nothing is sent before).
- mail_batches: per stream of mails (an address in a thread, the moderators, a
  confirmation), its latest mail: the one being gathered, or the last one sent.
- reply_mail_items: the replies gathered into a pending reply mail.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reply_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_reply_subscriptions_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_reply_subscriptions_comment_id_comments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_subscriptions')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_reply_subscriptions_comment_id'))
    )
    with op.batch_alter_table('reply_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_subscriptions_email_hash'), ['email_hash'], unique=False)

    op.create_table('mail_batches',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_mail_batches_delivery_id_deliveries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_mail_batches'))
    )
    op.create_table('reply_mail_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_reply_mail_items_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reply_id'], ['comments.id'], name=op.f('fk_reply_mail_items_reply_id_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['reply_subscriptions.id'], name=op.f('fk_reply_mail_items_subscription_id_reply_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_mail_items')),
    sa.UniqueConstraint('delivery_id', 'reply_id', name=op.f('uq_reply_mail_items_delivery_id_reply_id'))
    )
    with op.batch_alter_table('reply_mail_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_mail_items_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_mail_items_reply_id'), ['reply_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_mail_items_subscription_id'), ['subscription_id'], unique=False)



def downgrade():
    with op.batch_alter_table('reply_mail_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_mail_items_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_reply_mail_items_reply_id'))
        batch_op.drop_index(batch_op.f('ix_reply_mail_items_delivery_id'))

    op.drop_table('reply_mail_items')
    op.drop_table('mail_batches')
    with op.batch_alter_table('reply_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_subscriptions_email_hash'))

    op.drop_table('reply_subscriptions')
