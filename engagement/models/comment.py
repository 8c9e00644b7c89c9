"""Comments and their lifecycle states."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engagement.models.article import Article
from engagement.models.base import Base, enum_column
from engagement.models.revision import Editor


class CommentStatus(enum.Enum):
    PENDING = "pending"  # held for moderation
    APPROVED = "approved"  # public
    REJECTED = "rejected"
    SPAM = "spam"
    DELETED = "deleted"  # withdrawn by its author


class BodyFormat(enum.Enum):
    """What ``body_source`` is written in, so re-rendering takes the right path."""

    MARKDOWN = "markdown"  # typed by a reader, or imported from Isso or an export
    HTML = "html"  # imported from Disqus or WordPress, sanitised by the same allowlist


# Which status changes are allowed, and by whom. Authors only ever delete.
MODERATOR_TRANSITIONS: dict[CommentStatus, frozenset[CommentStatus]] = {
    CommentStatus.PENDING: frozenset({CommentStatus.APPROVED, CommentStatus.REJECTED, CommentStatus.SPAM}),
    CommentStatus.APPROVED: frozenset({CommentStatus.PENDING, CommentStatus.REJECTED, CommentStatus.SPAM}),
    CommentStatus.REJECTED: frozenset({CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.SPAM}),
    CommentStatus.SPAM: frozenset({CommentStatus.APPROVED, CommentStatus.PENDING, CommentStatus.REJECTED}),
    CommentStatus.DELETED: frozenset(),
}
# Spam is among them: to its author a spam verdict must look exactly like a hold.
AUTHOR_DELETABLE = frozenset({CommentStatus.PENDING, CommentStatus.APPROVED, CommentStatus.SPAM})


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        # Top-level page of a thread, in each sort order (pinned first).
        sa.Index("ix_comments_thread_by_id", "article_id", "depth", "pinned", "id"),
        sa.Index("ix_comments_thread_by_score", "article_id", "depth", "pinned", "score", "id"),
        # Every reply of a page's threads in one query.
        sa.Index("ix_comments_root_id_status", "root_id", "status"),
        # Moderation queue per status, newest first.
        sa.Index("ix_comments_status_id", "status", "id"),
        # The "flagged" queue: only the few comments with open flags, newest first.
        sa.Index(
            "ix_comments_open_flags",
            "id",
            sqlite_where=sa.text("open_flag_count > 0"),
            postgresql_where=sa.text("open_flag_count > 0"),
        ),
        # Duplicate detection and bans: recent comments of one reader.
        sa.Index("ix_comments_reader_hash_created_at", "reader_hash", "created_at"),
        sa.CheckConstraint("depth >= 0", name="depth_not_negative"),
        # An imported comment is stored once per source id: importing a file again adds nothing.
        sa.UniqueConstraint("import_source", "import_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id"), index=True)
    # The top-level comment of this thread (None for top-level comments themselves).
    root_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id"))
    depth: Mapped[int] = mapped_column(default=0)
    status: Mapped[CommentStatus] = mapped_column(enum_column(CommentStatus))
    moderation_reason: Mapped[str | None] = mapped_column(sa.String(200))

    body_source: Mapped[str] = mapped_column(sa.Text)  # Markdown as typed, to re-render later
    body_html: Mapped[str] = mapped_column(sa.Text)  # sanitised at write time
    body_format: Mapped[BodyFormat] = mapped_column(
        enum_column(BodyFormat), default=BodyFormat.MARKDOWN, server_default=BodyFormat.MARKDOWN.value
    )
    edited_by: Mapped[Editor | None] = mapped_column(enum_column(Editor))  # who wrote this revision

    author_name: Mapped[str | None] = mapped_column(sa.String(80))
    author_email: Mapped[str | None] = mapped_column(sa.String(320))  # moderators only
    author_url: Mapped[str | None] = mapped_column(sa.String(2000))
    avatar_seed: Mapped[str] = mapped_column(sa.String(32))
    # Signed-in readers: the avatar the site's token named (https), and the verified mark.
    avatar_url: Mapped[str | None] = mapped_column(sa.String(2000))
    verified: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Keyed hashes: the reader identity, the client address (for bans). Never public.
    reader_hash: Mapped[str] = mapped_column(sa.String(64))
    address_hash: Mapped[str] = mapped_column(sa.String(64))
    edit_token_hash: Mapped[str | None] = mapped_column(sa.String(64))

    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]

    pinned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    score: Mapped[int] = mapped_column(default=0, server_default="0")
    upvotes: Mapped[int] = mapped_column(default=0, server_default="0")
    downvotes: Mapped[int] = mapped_column(default=0, server_default="0")
    reply_count: Mapped[int] = mapped_column(default=0, server_default="0")  # visible direct replies
    open_flag_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The version of the text: 1 when posted, +1 on every body edit (author or moderator);
    # earlier versions are kept in comment_revisions.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    # The version a moderator vouched for (approved, pinned or wrote); flags never hold it.
    approved_revision: Mapped[int | None]
    # Where an imported comment came from ("disqus", "wordpress", "isso", "json") and its id
    # there; None for comments posted here.
    import_source: Mapped[str | None] = mapped_column(sa.String(16))
    import_id: Mapped[str | None] = mapped_column(sa.String(64))

    article: Mapped[Article] = relationship(lazy="raise")

    @property
    def is_public(self) -> bool:
        return self.status is CommentStatus.APPROVED
