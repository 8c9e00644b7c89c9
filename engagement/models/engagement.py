"""Reader engagement: votes on comments, reactions to articles, counted views, trend buckets."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models import triggers
from engagement.models.base import Base


class CommentVote(Base):
    __tablename__ = "comment_votes"
    __table_args__ = (sa.UniqueConstraint("comment_id", "reader_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    reader_hash: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[int] = mapped_column(sa.SmallInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Reaction(Base):
    """A reader's reaction of one kind to an article. Storing or deleting one keeps its
    total, its article's version and its trending bucket in step (``models.triggers``)."""

    __tablename__ = "reactions"
    __table_args__ = (sa.UniqueConstraint("article_id", "reader_hash", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    reader_hash: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]


triggers.install(Reaction.__table__, triggers.REACTION_TRIGGERS)


class ReactionTotal(Base):
    """Per-article, per-kind reaction counts, kept in step with ``reactions`` by the
    database (``models.triggers``); imported totals are written here directly."""

    __tablename__ = "reaction_totals"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")


triggers.install(ReactionTotal.__table__, triggers.TOTAL_TRIGGERS)


class ViewMark(Base):
    """One counted view of an article by one visitor, until ``expires_at``.

    ``visitor_hash`` is keyed with a key that rotates daily for anonymous visitors;
    expired marks are purged, so no long-lived visitor identifier is kept.
    """

    __tablename__ = "view_marks"
    __table_args__ = (sa.UniqueConstraint("article_id", "visitor_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    visitor_hash: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ActivityBucket(Base):
    """Per-article activity in one hour, for trending scores.

    Keyed by hour first: trending reads the buckets of one window of hours, and pruning
    deletes the oldest, each one range of the key. On SQLite the table is that key
    (WITHOUT ROWID), so the range holds the counters themselves: a window is read without
    a second lookup for every bucket. The (article, hour) index serves the other side: an
    article's latest activity (the moderators' article list) and its buckets going when
    it is deleted.
    """

    __tablename__ = "activity_buckets"
    __table_args__ = (
        sa.PrimaryKeyConstraint("hour", "article_id"),
        sa.Index("ix_activity_buckets_article_id_hour", "article_id", "hour"),
        {"sqlite_with_rowid": False},
    )

    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    hour: Mapped[datetime]
    views: Mapped[int] = mapped_column(default=0, server_default="0")
    comments: Mapped[int] = mapped_column(default=0, server_default="0")
    reactions: Mapped[int] = mapped_column(default=0, server_default="0")
