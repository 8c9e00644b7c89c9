"""Bans on the people behind comments, by reader identity, address hash and email hash.

A ban copies the keyed hashes from one comment; moderators never see them. A ban is
active until lifted or until it expires. Every participating action asks whether one
matches: posting and editing through the comment policy (``any_ban_matches``, which
also matches the email), voting, reacting and flagging by reader and address
(``reader_banned`` inside their own statement, or ``ensure_not_banned``).

A ban's purge is narrower than the ban: it takes the author's comments by reader
identity and email only, never by address, since an address is shared by everyone
behind one office, campus or carrier. Each comment it rejects is recorded with its
previous status, so lifting the ban can put it back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import Banned, NotFound
from engagement.models import AuditEntry, Ban, Comment, CommentStatus
from engagement.models.base import MAX_ID
from engagement.models.moderation import BanPurgedComment
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import audit
from engagement.services.statements import Database, run

_BANS = Ban.__table__


def active(now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    """SQL predicate: the ban is in force at ``now`` (a moment, or a bound parameter)."""
    return sa.and_(_BANS.c.lifted_at.is_(None), sa.or_(_BANS.c.expires_at.is_(None), _BANS.c.expires_at > now))


def _now_parameter() -> sa.BindParameter[datetime]:
    return sa.bindparam("now", type_=_BANS.c.expires_at.type)


def _ban_in_force(slots: int, *, email: bool) -> sa.Select[tuple[int]]:
    """The ids of the bans in force at ``now`` matching one of ``slots`` reader hashes
    (``reader_1``...), one of ``slots`` address hashes (``address_1``...) or, with
    ``email``, the email hash (``email``). One slot is compared with ``=``: with two
    slots and the email, the statement a vote reads its comment with took SQLite 23–45 %
    longer (an ``IN`` list to build, an index more to probe)."""
    def one_of(column: sa.Column[str | None], name: str) -> sa.ColumnElement[bool]:
        values = [sa.bindparam(f"{name}_{index}", type_=sa.String) for index in range(1, slots + 1)]
        return column == values[0] if slots == 1 else column.in_(values)

    matches = [one_of(_BANS.c.reader_hash, "reader"), one_of(_BANS.c.address_hash, "address")]
    if email:
        matches.append(_BANS.c.email_hash == sa.bindparam("email", type_=sa.String))
    return sa.select(_BANS.c.id).where(active(_now_parameter()), sa.or_(*matches))


# Built once each (every participating request runs one). Any ban in force matching up
# to two reader and two address hashes, or an email hash (the comment policy): unused
# slots repeat a used value, and a missing email hash is NULL, which equals nothing.
MAX_BAN_HASHES = 2
_ACTIVE_BAN = _ban_in_force(MAX_BAN_HASHES, email=True)
# The same for one reader and their address, without an email (votes, reactions, flags).
_READER_BAN = _ban_in_force(1, email=False)
_READER_BAN_ID = _READER_BAN.limit(1)


def _slots(name: str, hashes: tuple[str, ...]) -> dict[str, str | None]:
    if len(hashes) > MAX_BAN_HASHES:
        raise ValueError(f"at most {MAX_BAN_HASHES} {name} hashes per ban check")
    padded = (hashes + hashes[:1] * MAX_BAN_HASHES)[:MAX_BAN_HASHES] if hashes else (None,) * MAX_BAN_HASHES
    return {f"{name}_{index}": value for index, value in enumerate(padded, start=1)}


def any_ban_matches() -> sa.Exists:
    """SQL: a ban in force matches any of the hashes ``any_ban_parameters`` fills in, for
    a statement that asks along the way (the comment policy's)."""
    return _ACTIVE_BAN.exists()


def any_ban_parameters(
    now: datetime,
    *,
    reader_hashes: tuple[str, ...] = (),
    address_hashes: tuple[str, ...] = (),
    email_hash: str | None = None,
) -> dict[str, object]:
    """The parameters of ``_ACTIVE_BAN`` (and ``any_ban_matches``) for these hashes;
    with none at all, every slot is NULL and nothing matches."""
    return {"now": now, "email": email_hash, **_slots("reader", reader_hashes), **_slots("address", address_hashes)}


def reader_banned() -> sa.Exists:
    """SQL: ``ensure_not_banned`` without an email, as a condition of a statement the
    action runs anyway (a vote reads its comment with it, a reaction is stored only
    without it); parameters from ``ban_parameters``."""
    return _READER_BAN.exists()


def ban_parameters(reader: ReaderIdentity, now: datetime) -> dict[str, object]:
    """The parameters of ``reader_banned`` for this reader: their identity and address."""
    return {"now": now, "reader_1": reader.key, "address_1": reader.address_hash}


def ensure_not_banned(database: Database, reader: ReaderIdentity, now: datetime) -> None:
    """Refuse a banned reader, matched by reader identity or address hash (``reader_banned``,
    as a query of its own). Raises Banned."""
    if run(database, _READER_BAN_ID, ban_parameters(reader, now)).first() is not None:
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


PURGEABLE = (CommentStatus.PENDING, CommentStatus.APPROVED)


def by_same_author(comment: Comment) -> sa.ColumnElement[bool]:
    """SQL predicate: comments by the same reader identity or email (case-insensitive) as ``comment``.

    Not by address: readers sharing one address are different people.
    """
    matches = [Comment.reader_hash == comment.reader_hash]
    if comment.author_email:
        matches.append(sa.func.lower(Comment.author_email) == comment.author_email.lower())
    return sa.or_(*matches)


def purge_targets(comment: Comment) -> sa.Select[tuple[Comment]]:
    """The comments a purge of ``comment``'s author rejects: their pending and published ones, by id."""
    return (
        sa.select(Comment)
        .where(Comment.status.in_(PURGEABLE), by_same_author(comment))
        .order_by(Comment.id)
    )


@dataclass(frozen=True)
class PurgePreview:
    """How many comments a purge would reject now, per status; never who wrote them."""

    comment_id: int
    by_status: dict[str, int]

    @property
    def purge_comments(self) -> int:
        return sum(self.by_status.values())


def _comment(session: Session, comment_id: int) -> Comment | None:
    return session.get(Comment, comment_id) if 0 < comment_id <= MAX_ID else None


def preview_purge(session: Session, *, comment_id: int) -> PurgePreview:
    """Count what banning ``comment_id``'s author with a purge would reject (one query).

    Raises NotFound for an unknown comment.
    """
    comment = _comment(session, comment_id)
    if comment is None:
        raise NotFound("Comment not found.")
    targets = purge_targets(comment).order_by(None).subquery()
    counts = {status.value: 0 for status in PURGEABLE}
    for status, count in session.execute(sa.select(targets.c.status, sa.func.count()).group_by(targets.c.status)):
        counts[CommentStatus(status).value] = count
    return PurgePreview(comment_id=comment.id, by_status=counts)


PURGE_AUDIT_ACTION = "comment.status"


def record_purged(session: Session, ban: Ban, comment: Comment, *, actor: str, now: datetime) -> None:
    """Remember and audit ``comment``'s status and reason; call just before ``ban``'s purge rejects it."""
    session.add(
        BanPurgedComment(
            ban_id=ban.id, comment_id=comment.id,
            previous_status=comment.status, previous_reason=comment.moderation_reason,
        )
    )
    audit.record(
        session, actor=actor, action=PURGE_AUDIT_ACTION, target=f"comment:{comment.id}",
        details={"before": comment.status.value, "after": CommentStatus.REJECTED.value, "ban_id": ban.id},
        now=now,
    )


def restorable(session: Session, ban: Ban) -> list[tuple[Comment, BanPurgedComment]]:
    """The comments ``ban``'s purge rejected that still stand as it left them, by id.

    A comment a moderator decided on since (any audit entry on it after the purge's
    own), or that was erased, is left as it is: the later decision wins. Two queries.
    """
    rows = session.execute(
        sa.select(Comment, BanPurgedComment)
        .join(Comment, Comment.id == BanPurgedComment.comment_id)
        .where(
            BanPurgedComment.ban_id == ban.id,
            Comment.status == CommentStatus.REJECTED,
            Comment.purged_at.is_(None),
        )
        .order_by(Comment.id)
    ).all()
    if not rows:
        return []
    targets = {f"comment:{comment.id}": comment.id for comment, _ in rows}
    latest: dict[int, AuditEntry] = {}
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.at >= ban.created_at, AuditEntry.target.in_(list(targets)))
        .order_by(AuditEntry.id)
    )
    for entry in entries:
        latest[targets[entry.target]] = entry
    return [
        (comment, purged) for comment, purged in rows
        if comment.id in latest and _is_purge_entry(latest[comment.id], ban)
    ]


def _is_purge_entry(entry: AuditEntry, ban: Ban) -> bool:
    return entry.action == PURGE_AUDIT_ACTION and (entry.details or {}).get("ban_id") == ban.id


def list_active_bans(session: Session, now: datetime) -> list[Ban]:
    """Bans in force at ``now``, newest first."""
    return list(session.scalars(sa.select(Ban).where(active(now)).order_by(Ban.id.desc())).all())


def lift_ban(session: Session, *, ban_id: int, now: datetime) -> Ban:
    """Lift a ban at once (the caller audits it). Raises NotFound when it is unknown or already lifted."""
    ban = session.get(Ban, ban_id) if 0 < ban_id <= MAX_ID else None
    if ban is None or ban.lifted_at is not None:
        raise NotFound("Ban not found.")
    ban.lifted_at = now
    return ban
