"""Erasure: everything one reader left here, taken back with every counter kept exact.

Each comment becomes an empty deleted placeholder (text, author details, avatar,
earlier versions and the reader's hashes gone; replies by others stay readable under
it); the reader's votes, reactions and flags are withdrawn through the same statements
that withdraw one of them, so scores, reaction totals, comment and reply counts and
trending move in the same transaction; the reader's current view marks go. What stays:
the view counts (anonymous aggregates, never tied to a reader), bans (an erasure must
not lift one) and one audit entry saying what was erased, without who.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.models import Comment, CommentStatus, ReaderAccount, ViewMark
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import audit
from engagement.services.flags import withdraw_reader_flags
from engagement.services.hot_views import ViewCounter
from engagement.services.moderation import clear_content
from engagement.services.reactions import withdraw_reader_reactions
from engagement.services.votes import withdraw_reader_votes

log = logging.getLogger("engagement.erasure")

ERASED_REASON = "erased"
AUDIT_ACTION = "reader.erase"


@dataclass(frozen=True)
class Erasure:
    """How much was erased, by kind."""

    comments: int = 0
    revisions: int = 0
    votes: int = 0
    reactions: int = 0
    flags: int = 0
    view_marks: int = 0
    accounts: int = 0

    def __add__(self, other: "Erasure") -> "Erasure":
        return Erasure(**{name: value + getattr(other, name) for name, value in asdict(self).items()})


def erase_comments(session: Session, comments: list[Comment], now: datetime) -> Erasure:
    """Turn each comment into an empty deleted placeholder, counters following."""
    revisions = 0
    for comment in comments:
        revisions += clear_content(session, comment, status=CommentStatus.DELETED, reason=ERASED_REASON, now=now)
        # A marker of its own, not a shared empty value: erased comments must not read as one author's.
        comment.reader_hash = comment.address_hash = f"erased:{comment.id}"
    session.flush()
    return Erasure(comments=len(comments), revisions=revisions)


def _comments_of(session: Session, condition: sa.ColumnElement[bool]) -> list[Comment]:
    return list(session.scalars(sa.select(Comment).where(condition, Comment.purged_at.is_(None)).order_by(Comment.id)))


def _erase_view_marks(
    session: Session, keyring: Keyring, reader_key: str, now: datetime, counter: ViewCounter | None
) -> int:
    """The reader's view marks of today and yesterday (older ones have expired; their key
    rotated), in SQL and, with Redis, there too (they would expire within the window)."""
    identity = ReaderIdentity(reader_key, "", True)
    today = now.astimezone(timezone.utc).date()
    hashes = [keyring.daily_visitor_hash(identity, day) for day in (today, today - timedelta(days=1))]
    removed = session.execute(
        sa.delete(ViewMark).where(ViewMark.visitor_hash.in_(hashes)).execution_options(synchronize_session=False)
    ).rowcount
    if counter is not None:
        try:
            removed += counter.forget_visitors(hashes)
        except redis.RedisError:
            log.warning("erasure: Redis unreachable; the reader's view marks there expire by themselves")
    return removed


def _erase_reader_key(
    session: Session, keyring: Keyring, reader_key: str, now: datetime, counter: ViewCounter | None
) -> Erasure:
    erased = erase_comments(session, _comments_of(session, Comment.reader_hash == reader_key), now)
    accounts = session.execute(
        sa.delete(ReaderAccount).where(ReaderAccount.reader_hash == reader_key)
        .execution_options(synchronize_session=False)
    ).rowcount
    return erased + Erasure(
        votes=withdraw_reader_votes(session, reader_key),
        reactions=withdraw_reader_reactions(session, reader_key),
        flags=withdraw_reader_flags(session, reader_key),
        view_marks=_erase_view_marks(session, keyring, reader_key, now, counter),
        accounts=accounts,
    )


def _audited(session: Session, erasure: Erasure, *, actor: str, target: str, now: datetime) -> Erasure:
    audit.record(session, actor=actor, action=AUDIT_ACTION, target=target, details=asdict(erasure), now=now)
    session.flush()
    return erasure


def erase_reader(
    session: Session, keyring: Keyring, *, reader: ReaderIdentity, now: datetime, counter: ViewCounter | None = None
) -> Erasure:
    """Erase what the reader behind a reader token left here (their own request)."""
    erasure = _erase_reader_key(session, keyring, reader.key, now, counter)
    target = "reader:account" if reader.signed_in else "reader:token"
    return _audited(session, erasure, actor="reader", target=target, now=now)


def erase_account(
    session: Session, keyring: Keyring, *, subject: str, actor: str, now: datetime, counter: ViewCounter | None = None
) -> Erasure:
    """Erase what the site's account ``subject`` left here (the site's request); the
    subject is not recorded. Erasing an account with nothing left erases nothing."""
    erasure = _erase_reader_key(session, keyring, keyring.account_reader_key(subject), now, counter)
    return _audited(session, erasure, actor=actor, target="reader:account", now=now)


def erase_by_email(
    session: Session, keyring: Keyring, *, email: str, actor: str, now: datetime, counter: ViewCounter | None = None
) -> Erasure:
    """Erase the comments that carry ``email`` (compared as stored: normalised, case-insensitive)
    and everything of the site's accounts with that email. The address is not recorded.

    Votes and reactions of anonymous readers carry no address, so they cannot be found
    this way: the reader's own DELETE /api/v1/me erases them.
    """
    address = email.strip().lower()
    erasure = Erasure()
    account_keys = session.scalars(
        sa.select(ReaderAccount.reader_hash).where(sa.func.lower(ReaderAccount.email) == address)
    ).all()
    for reader_key in account_keys:
        erasure += _erase_reader_key(session, keyring, reader_key, now, counter)
    erasure += erase_comments(session, _comments_of(session, sa.func.lower(Comment.author_email) == address), now)
    return _audited(session, erasure, actor=actor, target="reader:email", now=now)
