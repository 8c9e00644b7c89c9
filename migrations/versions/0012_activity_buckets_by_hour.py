"""activity buckets keyed by hour first

Trending reads the buckets of one window of hours and pruning deletes the oldest: keyed
(hour, article), each is one range of the primary key. On SQLite the table becomes
WITHOUT ROWID, so that range holds the counters themselves and a window is read without a
second lookup per bucket; the table is rebuilt, with the reaction triggers (which write
it) dropped meanwhile, since SQLite refuses to rename a table over a name triggers use.
On PostgreSQL the primary key is rebuilt in place. On both, the index on hour alone goes
(it is the key's prefix) and an (article, hour) index takes the old key's other uses: an
article's latest activity (the moderators' article list) and deleting its buckets.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

from engagement.models import triggers


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

COLUMNS = 'article_id, hour, views, comments, reactions'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_on_sqlite(key=('hour', 'article_id'), with_rowid=False)  # the hour index goes with the old table
    else:
        op.drop_index('ix_activity_buckets_hour', table_name='activity_buckets')
        _rekey_on_postgresql(('hour', 'article_id'))
    op.create_index('ix_activity_buckets_article_id_hour', 'activity_buckets', ['article_id', 'hour'])


def downgrade():
    op.drop_index('ix_activity_buckets_article_id_hour', table_name='activity_buckets')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_on_sqlite(key=('article_id', 'hour'), with_rowid=True)
    else:
        _rekey_on_postgresql(('article_id', 'hour'))
    op.create_index('ix_activity_buckets_hour', 'activity_buckets', ['hour'])


def _rekey_on_postgresql(key):
    op.drop_constraint('pk_activity_buckets', 'activity_buckets', type_='primary')
    op.create_primary_key('pk_activity_buckets', 'activity_buckets', list(key))


def _rebuild_on_sqlite(key, with_rowid):
    """Copy the buckets into a table keyed by ``key`` that takes the old one's name (not its indexes)."""
    connection = op.get_bind()
    triggers.execute(connection, triggers.REACTION_TRIGGER_DROPS)
    op.create_table(
        'activity_buckets_rekeyed',
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('hour', sa.DateTime(), nullable=False),
        sa.Column('views', sa.Integer(), server_default='0', nullable=False),
        sa.Column('comments', sa.Integer(), server_default='0', nullable=False),
        sa.Column('reactions', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name='fk_activity_buckets_article_id_articles',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(*key, name='pk_activity_buckets'),
        sqlite_with_rowid=with_rowid,
    )
    connection.exec_driver_sql(f'INSERT INTO activity_buckets_rekeyed ({COLUMNS}) SELECT {COLUMNS} FROM activity_buckets')
    op.drop_table('activity_buckets')
    op.rename_table('activity_buckets_rekeyed', 'activity_buckets')
    triggers.execute(connection, triggers.REACTION_TRIGGERS)
