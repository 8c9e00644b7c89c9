"""Notifications: the event outbox, webhook subscriptions and the deliveries that carry events out.

An event row is written in the transaction of the change it reports, so it exists if and
only if the change committed. The worker later fans each event out into one delivery per
destination (a webhook, an e-mail, ...) and sends them, with retries.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engagement.models.base import Base, enum_column


class EventType(enum.Enum):
    COMMENT_PUBLISHED = "comment.published"
    COMMENT_HELD = "comment.held"
    COMMENT_FLAGGED = "comment.flagged"
    COMMENT_APPROVED = "comment.approved"
    COMMENT_REJECTED = "comment.rejected"
    COMMENT_EDITED = "comment.edited"
    COMMENT_DELETED = "comment.deleted"
    REPLY_PUBLISHED = "reply.published"
    ARTICLE_CLOSED = "article.closed"


class DeliveryKind(enum.Enum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(enum.Enum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # out of attempts: the dead letter an admin may retry


class Event(Base):
    """Something that happened, as the outside world is told about it."""

    __tablename__ = "events"
    __table_args__ = (
        # The worker's fan-out scan: only the few events not yet turned into deliveries.
        sa.Index(
            "ix_events_undispatched",
            "id",
            sqlite_where=sa.text("dispatched_at IS NULL"),
            postgresql_where=sa.text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[EventType] = mapped_column(enum_column(EventType, length=32))
    # What the event is about. The comment's content is read when a delivery is made, so
    # a comment purged since is never sent out again.
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    # Facts of the moment that the rows will not keep (status before, reason, flag reason).
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]


class Webhook(Base):
    """An admin's subscription: events of these types are POSTed, signed, to this URL."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    event_types: Mapped[list[str]] = mapped_column(sa.JSON)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    description: Mapped[str | None] = mapped_column(sa.String(200))
    # Random; the signing secret is derived from it and SECRET_KEY (privacy.Keyring), so
    # the database alone never holds a usable secret.
    secret_salt: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One event on its way to one destination, with its attempts so far."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The worker's claim: due pending deliveries, oldest first.
        sa.Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # The admins' list, per status, newest first.
        sa.Index("ix_deliveries_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeliveryKind] = mapped_column(enum_column(DeliveryKind))
    webhook_id: Mapped[int | None] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    # For kinds without a table of their own: what the kind's channel needs to find its recipient.
    destination: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime]
    # A worker that claimed the delivery owns it until then; a worker killed mid-delivery
    # leaves it to be claimed again once this passes (at-least-once).
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(lazy="joined")

    @property
    def event_type(self) -> str:
        return self.event.type.value
