"""Earlier versions of comment bodies, kept when an author or a moderator edits one."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base, enum_column


class Editor(enum.Enum):
    """Who changed a comment's body."""

    AUTHOR = "author"
    MODERATOR = "moderator"


class CommentRevision(Base):
    """One replaced version of a comment's body, written in the same transaction as the edit.

    ``revision``, the bodies and ``edited_at`` describe the version that was replaced
    (``edited_at`` is when that version was written: the comment's creation for revision
    1); ``editor``, ``actor`` and ``replaced_at`` describe the edit that replaced it.
    The unique (comment, revision) pair makes two concurrent edits of one version conflict.
    """

    __tablename__ = "comment_revisions"
    __table_args__ = (sa.UniqueConstraint("comment_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    revision: Mapped[int]
    body_source: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    edited_at: Mapped[datetime]
    editor: Mapped[Editor] = mapped_column(enum_column(Editor))
    actor: Mapped[str | None] = mapped_column(sa.String(80))  # the API token's name; None for authors
    replaced_at: Mapped[datetime]
