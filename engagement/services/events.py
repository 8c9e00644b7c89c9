"""The event outbox: what happened, written in the transaction of the change itself.

``record`` adds one row to ``events`` in the caller's transaction, so an event exists if
and only if its change committed; nothing leaves the process here. The delivery worker
(``services.deliveries``) later turns each event into deliveries and sends them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.models import Comment, CommentStatus, Event, EventType
from engagement.services.statements import Write, run

# A new status -> the event that announces it (change_status records it).
STATUS_EVENTS: dict[CommentStatus, EventType] = {
    CommentStatus.APPROVED: EventType.COMMENT_APPROVED,
    CommentStatus.PENDING: EventType.COMMENT_HELD,
    CommentStatus.SPAM: EventType.COMMENT_REJECTED,
    CommentStatus.REJECTED: EventType.COMMENT_REJECTED,
    CommentStatus.DELETED: EventType.COMMENT_DELETED,
}

_INSERT_EVENT = sa.insert(Event.__table__).values(
    type=sa.bindparam("type"),
    article_id=sa.bindparam("article_id"),
    comment_id=sa.bindparam("comment_id"),
    details=sa.bindparam("details", type_=Event.__table__.c.details.type),
    created_at=sa.bindparam("now", type_=Event.__table__.c.created_at.type),
)


def record(
    session: Session,
    event_type: EventType,
    *,
    article_id: int,
    comment_id: int | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
    write: Write = run,
) -> None:
    """Add one event to the caller's transaction: a single prebuilt INSERT.

    ``details`` holds facts the rows will not keep (a status before, a reason); never
    an e-mail, an address or a token. The comment must be flushed already. With
    ``write=statements.at_commit`` the INSERT goes with the commit (nothing reads its
    answer): on PostgreSQL in the commit's own round trip.
    """
    write(
        session,
        _INSERT_EVENT,
        {"type": event_type, "article_id": article_id, "comment_id": comment_id, "details": details or {}, "now": now},
    )


def record_for_comment(
    session: Session, event_type: EventType, comment: Comment, now: datetime, *, write: Write = run, **details: Any
) -> None:
    """``record`` an event about ``comment`` (its status and moderation reason included)."""
    record(
        session,
        event_type,
        article_id=comment.article_id,
        comment_id=comment.id,
        details={"status": comment.status.value, "reason": comment.moderation_reason, **details},
        now=now,
        write=write,
    )


def published_event(comment: Comment) -> EventType:
    """The event of a comment published as it is posted: a reply's own type tells reply notifiers apart."""
    return EventType.COMMENT_PUBLISHED if comment.parent_id is None else EventType.REPLY_PUBLISHED
