"""Moderation: API tokens, flags, bans, the blocklist and the audit log."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base, enum_column
from engagement.models.comment import CommentStatus


class Role(enum.Enum):
    MODERATOR = "moderator"
    ADMIN = "admin"


class FlagReason(enum.Enum):
    SPAM = "spam"
    ABUSE = "abuse"
    OFF_TOPIC = "off_topic"
    OTHER = "other"


class BlocklistAction(enum.Enum):
    HOLD = "hold"
    REJECT = "reject"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Flag(Base):
    """One reader's report on one version (revision) of a comment's text."""

    __tablename__ = "flags"
    __table_args__ = (sa.UniqueConstraint("comment_id", "reader_hash", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    reader_hash: Mapped[str] = mapped_column(sa.String(64))
    # The comment's revision when flagged: after an edit the same reader may flag again.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    # Keyed hash of the reader's network (IPv4 /24, IPv6 /48); null for flags from before.
    network_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # How much the flag counts towards holding the comment: 2 for an established reader, 1 otherwise.
    weight: Mapped[int] = mapped_column(sa.SmallInteger, default=2, server_default="2")
    reason: Mapped[FlagReason] = mapped_column(enum_column(FlagReason))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Ban(Base):
    """A ban on the identities behind one comment; moderators never see the identities."""

    __tablename__ = "bans"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="SET NULL"))
    reader_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    address_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    email_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    actor: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    lifted_at: Mapped[datetime | None]


class BanPurgedComment(Base):
    """A comment a ban's purge rejected, and what it was before, so lifting the ban can restore it."""

    __tablename__ = "ban_purged_comments"
    __table_args__ = (sa.UniqueConstraint("ban_id", "comment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ban_id: Mapped[int] = mapped_column(sa.ForeignKey("bans.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    previous_status: Mapped[CommentStatus] = mapped_column(enum_column(CommentStatus))
    previous_reason: Mapped[str | None] = mapped_column(sa.String(200))  # comments.moderation_reason


class BlockedWord(Base):
    __tablename__ = "blocked_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(sa.String(100), unique=True)  # as entered
    # The entry in its matching form (see services.blocklist.normalize): keeps one entry per form.
    normalized: Mapped[str] = mapped_column(sa.String(200))


class SiteSetting(Base):
    """Small site-wide settings changed at run time (e.g. the blocklist action)."""

    __tablename__ = "site_settings"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(200))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
