"""Reader flags on comments: one per reader per version of the text; enough independent
readers hold the comment.

A comment is held automatically only by flags from independent readers: the open flags
are grouped by the flagging reader's network (IPv4 /24, IPv6 /48), each network counting
once with its strongest flag, and a reader whose token is established (older than
``ENGAGEMENT_ESTABLISHED_READER_MINUTES``) weighs ESTABLISHED_WEIGHT while a fresh token or
none weighs FRESH_WEIGHT. The comment is held when that sum reaches
``flag_threshold * ESTABLISHED_WEIGHT``: with the default threshold of 3, three established
readers on three networks, or six fresh ones. One client with many user agents, tokens
or addresses in one network is one network. A version of the text a moderator approved,
pinned or wrote (``approved_revision == revision``) is never held by flags again: its new
flags only reach the flagged queue. An edit makes a new version, which readers may flag
again and which the moderator's decision no longer covers.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engagement.config import Settings
from engagement.errors import CommentsClosed, NotFound
from engagement.models import Article, Comment, CommentStatus, EventType, Flag, FlagReason
from engagement.services import events
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services.articles import dialect_insert, is_closed
from engagement.services.bans import ensure_not_banned
from engagement.services.comments import change_status, get_comment

FLAGGED_REASON = "flagged"
RECENT_NOTES = 10
ESTABLISHED_WEIGHT = 2
FRESH_WEIGHT = 1


@dataclass(frozen=True)
class FlagNote:
    reason: str
    note: str
    created_at: datetime


@dataclass
class FlagSummary:
    """What moderators see of a comment's open flags."""

    open: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[FlagNote] = field(default_factory=list)


def flag_comment(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    comment_id: int,
    reason: FlagReason,
    note: str | None,
    reader: ReaderIdentity,
    now: datetime,
) -> None:
    """Record a reader's flag on the current version of the text; a repeat changes nothing.

    When the independent weight of the open flags (see the module docstring) reaches
    ``settings.flag_threshold`` established readers, the comment is held (pending,
    reason "flagged") until a moderator decides, unless a moderator vouched for this
    version. Raises NotFound (unknown or not public), CommentsClosed, Banned.
    """
    comment = get_comment(session, comment_id)
    if comment is None or not comment.is_public or comment.purged_at is not None:
        raise NotFound("Comment not found.")
    article = session.get_one(Article, comment.article_id)
    if is_closed(article, settings, now):
        raise CommentsClosed()
    ensure_not_banned(session, reader, now)

    inserted = session.execute(
        dialect_insert(session, Flag)
        .values(
            comment_id=comment.id, reader_hash=reader.key, revision=comment.revision, reason=reason, note=note,
            created_at=now, network_hash=reader.network_hash,
            weight=ESTABLISHED_WEIGHT if reader.established else FRESH_WEIGHT,
        )
        .on_conflict_do_nothing(index_elements=["comment_id", "reader_hash", "revision"])
        .returning(Flag.id)
    ).scalar_one_or_none()
    if inserted is None:
        return
    events.record(
        session, EventType.COMMENT_FLAGGED, article_id=comment.article_id, comment_id=comment.id,
        details={"reason": reason.value}, now=now,
    )
    open_flags = session.execute(
        sa.update(Comment)
        .where(Comment.id == comment.id)
        .values(open_flag_count=Comment.open_flag_count + 1)
        .returning(Comment.open_flag_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    needed = settings.flag_threshold * ESTABLISHED_WEIGHT
    if open_flags * ESTABLISHED_WEIGHT < needed:
        return  # not enough flags whatever their weight: skip the grouping query
    # The increment holds the row lock: re-read the state so concurrent flags hold it once.
    session.refresh(comment, attribute_names=["status", "revision", "approved_revision"])
    if comment.status is not CommentStatus.APPROVED or comment.approved_revision == comment.revision:
        return
    if independent_weight(session, comment.id) >= needed:
        comment.moderation_reason = FLAGGED_REASON
        change_status(session, comment, CommentStatus.PENDING, now=now)


def independent_weight(session: Session, comment_id: int) -> int:
    """The open flags' weight with each network counted once, at its strongest flag."""
    network = sa.func.coalesce(Flag.network_hash, sa.cast(Flag.id, sa.String))  # flags from before: their own
    strongest = (
        sa.select(sa.func.max(Flag.weight).label("weight"))
        .where(Flag.comment_id == comment_id, Flag.resolved_at.is_(None))
        .group_by(network)
        .subquery()
    )
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(strongest.c.weight), 0))) or 0)


def resolve_flags(session: Session, comments: Sequence[Comment], now: datetime) -> None:
    """Close the open flags of these comments (a moderator has decided on them)."""
    ids = [comment.id for comment in comments]
    if not ids:
        return
    session.execute(
        sa.update(Flag)
        .where(Flag.comment_id.in_(ids), Flag.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(Comment)
        .where(Comment.id.in_(ids), Comment.open_flag_count != 0)
        .values(open_flag_count=0)
        .execution_options(synchronize_session=False)
    )
    for comment in comments:
        # Keep the loaded objects truthful without marking them changed.
        set_committed_value(comment, "open_flag_count", 0)


def summarize_open_flags(session: Session, comments: Sequence[Comment]) -> dict[int, FlagSummary]:
    """Open flag counts by reason and the latest notes, per comment, in two queries."""
    summaries = {comment.id: FlagSummary(open=comment.open_flag_count) for comment in comments}
    flagged = [comment.id for comment in comments if comment.open_flag_count > 0]
    if not flagged:
        return summaries
    counts = session.execute(
        sa.select(Flag.comment_id, Flag.reason, sa.func.count())
        .where(Flag.comment_id.in_(flagged), Flag.resolved_at.is_(None))
        .group_by(Flag.comment_id, Flag.reason)
    ).all()
    for comment_id, reason, count in counts:
        summaries[comment_id].reasons[reason.value] = count
    position = (
        sa.func.row_number().over(partition_by=Flag.comment_id, order_by=Flag.id.desc()).label("position")
    )
    latest = (
        sa.select(Flag.comment_id, Flag.reason, Flag.note, Flag.created_at, position)
        .where(Flag.comment_id.in_(flagged), Flag.resolved_at.is_(None), Flag.note.is_not(None))
        .subquery()
    )
    notes = session.execute(
        sa.select(latest.c.comment_id, latest.c.reason, latest.c.note, latest.c.created_at)
        .where(latest.c.position <= RECENT_NOTES)
        .order_by(latest.c.comment_id, latest.c.position)
    ).all()
    for comment_id, reason, note, created_at in notes:
        summaries[comment_id].notes.append(FlagNote(reason.value, note, created_at))
    return summaries


def withdraw_reader_flags(session: Session, reader_key: str) -> int:
    """Withdraw every flag of one reader; the open ones leave their comments' open counts.

    A comment the flags already held stays held: a moderator decides on it.
    Returns how many flags were withdrawn.
    """
    withdrawn = session.execute(
        sa.delete(Flag).where(Flag.reader_hash == reader_key).returning(Flag.comment_id, Flag.resolved_at)
        .execution_options(synchronize_session=False)
    ).all()
    still_open = Counter(comment_id for comment_id, resolved_at in withdrawn if resolved_at is None)
    for comment_id, count in sorted(still_open.items()):
        session.execute(
            sa.update(Comment).where(Comment.id == comment_id)
            .values(open_flag_count=Comment.open_flag_count - count)
            .execution_options(synchronize_session=False)
        )
    return len(withdrawn)
