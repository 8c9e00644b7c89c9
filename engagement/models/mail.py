"""Reply e-mails: readers' subscriptions to replies, and the mails being gathered.

A subscription belongs to one comment: its author asked to hear of replies to it. The
address is kept as typed, like a comment's author e-mail (moderators only, never a
public endpoint), with a keyed hash to find an address's rows without comparing text.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engagement.models.base import Base


class ReplySubscription(Base):
    """A reader's wish to get a mail when a reply to their comment is published."""

    __tablename__ = "reply_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"), unique=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(320))
    email_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime]
    # Null until the address's owner follows the confirmation link: nothing is sent before.
    confirmed_at: Mapped[datetime | None]


class MailBatch(Base):
    """One stream of mails to one recipient (an address in a thread, the moderators, a
    confirmation) and its latest mail: the one being gathered, or the last one sent
    (whose time starts the stream's window).

    The key names the stream: ``reply:<article id>:<address hash>``, ``confirm:<address
    hash>`` or ``moderators``. A stream sends at most one mail per window; what arrives
    meanwhile joins the pending one.
    """

    __tablename__ = "mail_batches"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliveries.id", ondelete="SET NULL"))


class ReplyMailItem(Base):
    """One reply gathered into a pending reply mail."""

    __tablename__ = "reply_mail_items"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "reply_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reply_subscriptions.id", ondelete="CASCADE"), index=True
    )
    reply_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"), index=True)
