"""Bans on the people behind comments, by reader identity, address hash and email hash.

A ban copies the keyed hashes from one comment; moderators never see them. A ban is
active until lifted or until it expires. ``ensure_not_banned`` is what every
participating action (posting, editing, voting, reacting, flagging) calls.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import Banned, NotFound
from engagement.models import Ban, Comment
from engagement.models.base import MAX_ID
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import audit


def active(now: datetime) -> sa.ColumnElement[bool]:
    """SQL predicate: the ban is in force at ``now``."""
    return sa.and_(Ban.lifted_at.is_(None), sa.or_(Ban.expires_at.is_(None), Ban.expires_at > now))


def find_active_ban(
    session: Session,
    now: datetime,
    *,
    reader_hashes: tuple[str, ...] = (),
    address_hashes: tuple[str, ...] = (),
    email_hash: str | None = None,
) -> int | None:
    """The id of an active ban matching any of the given hashes, or None (one indexed query)."""
    matches = []
    if reader_hashes:
        matches.append(Ban.reader_hash.in_(reader_hashes))
    if address_hashes:
        matches.append(Ban.address_hash.in_(address_hashes))
    if email_hash:
        matches.append(Ban.email_hash == email_hash)
    if not matches:
        return None
    return session.scalar(sa.select(Ban.id).where(active(now), sa.or_(*matches)).limit(1))


def ensure_not_banned(
    session: Session, reader: ReaderIdentity, now: datetime, email_hash: str | None = None
) -> None:
    """Refuse a banned reader: matched by reader identity, address hash, or the email hash given.

    Raises Banned.
    """
    if find_active_ban(
        session, now, reader_hashes=(reader.key,), address_hashes=(reader.address_hash,), email_hash=email_hash
    ) is not None:
        raise Banned()


def create_ban(
    session: Session,
    keyring: Keyring,
    *,
    comment: Comment,
    reason: str,
    duration_hours: int | None,
    actor: str,
    now: datetime,
) -> Ban:
    """Ban the identities behind ``comment`` (its reader, address and email hashes)."""
    ban = Ban(
        comment_id=comment.id,
        reader_hash=comment.reader_hash,
        address_hash=comment.address_hash,
        email_hash=keyring.email_hash(comment.author_email) if comment.author_email else None,
        reason=reason,
        actor=actor,
        created_at=now,
        expires_at=now + timedelta(hours=duration_hours) if duration_hours else None,
    )
    session.add(ban)
    session.flush()
    return ban


def same_author(comment: Comment) -> sa.ColumnElement[bool]:
    """SQL predicate: comments by the same reader, address or email as ``comment``."""
    matches = [Comment.reader_hash == comment.reader_hash, Comment.address_hash == comment.address_hash]
    if comment.author_email:
        matches.append(sa.func.lower(Comment.author_email) == comment.author_email.lower())
    return sa.or_(*matches)


def list_active_bans(session: Session, now: datetime) -> list[Ban]:
    """Bans in force at ``now``, newest first."""
    return list(session.scalars(sa.select(Ban).where(active(now)).order_by(Ban.id.desc())).all())


def lift_ban(session: Session, *, ban_id: int, actor: str, now: datetime) -> None:
    """Lift a ban at once. Raises NotFound when it is unknown or already lifted."""
    ban = session.get(Ban, ban_id) if 0 < ban_id <= MAX_ID else None
    if ban is None or ban.lifted_at is not None:
        raise NotFound("Ban not found.")
    ban.lifted_at = now
    audit.record(
        session, actor=actor, action="ban.lift", target=f"ban:{ban.id}",
        details={"reason": ban.reason}, now=now,
    )
    session.flush()
