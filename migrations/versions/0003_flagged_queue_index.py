"""flagged queue index

A partial index over the comments with open flags, so the moderators' "flagged" queue
reads only those rows, newest first, however large the comments table grows.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comments_open_flags",
            ["id"],
            unique=False,
            sqlite_where=sa.text("open_flag_count > 0"),
            postgresql_where=sa.text("open_flag_count > 0"),
        )


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_open_flags")
