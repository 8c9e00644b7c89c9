"""Articles: the site's pages that comments, views and reactions belong to."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base, enum_column


class ModerationMode(enum.Enum):
    POST = "post"  # published at once, moderated afterwards
    PRE = "pre"  # held until a moderator approves


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(300))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    # Denormalised counters, only ever changed by atomic UPDATE ... + n statements.
    views: Mapped[int] = mapped_column(default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The reaction totals as one JSON object ({kind: count}), kept by the database from
    # reaction_totals (models.triggers); NULL or {} before the first.
    reaction_counts: Mapped[str | None] = mapped_column(sa.Text)
    # Bumped in the same transaction as any change that public reads show (HTTP validators).
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    comments_closed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # None: the site-wide default applies.
    moderation: Mapped[ModerationMode | None] = mapped_column(enum_column(ModerationMode))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
