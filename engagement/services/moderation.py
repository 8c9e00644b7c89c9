"""Moderation: the queue, decisions on comments, purging, article settings, bans by comment, stats.

Every state-changing function writes its audit entries in the caller's transaction, so
the change and its record commit (or roll back) together. ``actor`` is the API token's name.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.clock import iso_timestamp
from engagement.config import Settings
from engagement.errors import Conflict, NotFound, ValidationFailed
from engagement.models import (
    MODERATOR_TRANSITIONS,
    Article,
    Ban,
    Comment,
    CommentRevision,
    CommentStatus,
    Editor,
    EventType,
    Flag,
    ModerationMode,
)
from engagement.privacy import Keyring
from engagement.services import audit, bans, events, subscriptions
from engagement.services.articles import effective_moderation, ensure_article, find_article, touch_article
from engagement.services.comments import ThreadNode, author_of, change_status, get_comment, revise
from engagement.services.article_stats import ArticleSummary, article_summary
from engagement.services.flags import FlagSummary, resolve_flags, summarize_open_flags

# A decision on these statuses answers the readers' reports, so their open flags close.
RESOLVING = frozenset({CommentStatus.APPROVED, CommentStatus.REJECTED, CommentStatus.SPAM})
MODERATOR_HOLD_REASON = "moderator"
BAN_REASON = "banned"
PURGE_REASON = "purged"
AUDIT_TARGET_MAX = 200  # audit_log.target; the full article key is also in the details

# A literal (not a bound parameter), so the planner can match the partial index
# ix_comments_open_flags even for prepared statements.
HAS_OPEN_FLAGS = Comment.open_flag_count > sa.literal_column("0")


class QueueFilter(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"
    DELETED = "deleted"
    FLAGGED = "flagged"  # any open flags, whatever the status
    ALL = "all"  # every status: an author's history


@dataclass(frozen=True)
class ParentContext:
    """The comment a reply answers, as much of it as a moderator needs to judge the reply."""

    id: int
    author_name: str
    body_html: str
    status: str


@dataclass
class ModeratedComment(ThreadNode):
    """A comment as moderators see it: the real body and author, and why it is where it is."""

    flags: FlagSummary = field(default_factory=FlagSummary)
    article_title: str | None = None
    article_url: str | None = None
    parent: ParentContext | None = None

    @property
    def body_html(self) -> str:
        return self.comment.body_html

    @property
    def author(self) -> dict[str, Any] | None:
        return author_of(self.comment, self.anonymous_name)


@dataclass
class QueuePage:
    comments: list[ModeratedComment]
    next_cursor: str | None


@dataclass(frozen=True)
class Decision:
    """A moderator's change to one comment; None means leave as is."""

    status: CommentStatus | None = None
    pinned: bool | None = None
    body: str | None = None


@dataclass(frozen=True)
class BanRequest:
    comment_id: int
    reason: str
    duration_hours: int | None = None
    purge_comments: bool = False


@dataclass(frozen=True)
class ModeratedArticle(ArticleSummary):
    """The public article summary plus its effective moderation mode."""

    moderation: str = ModerationMode.POST.value


# --- the queue ----------------------------------------------------------------------------

# A queue row: the comment, and its article's key, title and url.
QueueRow = tuple[Comment, str, "str | None", "str | None"]
_QUEUE_COLUMNS = (Comment, Article.key, Article.title, Article.url)


def _parents(session: Session, settings: Settings, comments: Sequence[Comment]) -> dict[int, ParentContext]:
    """The parents of the replies among ``comments``, in one query (none when there are no replies)."""
    wanted = {comment.parent_id for comment in comments if comment.parent_id is not None}
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(Comment.id, Comment.author_name, Comment.body_html, Comment.status).where(Comment.id.in_(wanted))
    )
    return {
        parent_id: ParentContext(parent_id, name or settings.anonymous_name, html, status.value)
        for parent_id, name, html, status in rows
    }


def _views(session: Session, settings: Settings, rows: Sequence[QueueRow]) -> list[ModeratedComment]:
    comments = [row[0] for row in rows]
    summaries = summarize_open_flags(session, comments)
    parents = _parents(session, settings, comments)
    return [
        ModeratedComment(
            comment, key, settings.anonymous_name, flags=summaries[comment.id],
            article_title=title, article_url=url,
            parent=parents.get(comment.parent_id) if comment.parent_id is not None else None,
        )
        for comment, key, title, url in rows
    ]


def list_queue(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    status: QueueFilter,
    article_key: str | None,
    text: str | None,
    limit: int,
    cursor: str | None,
    author_of: int | None = None,
) -> QueuePage:
    """One page of the moderation queue, newest first (keyset over id).

    ``text`` is a case-insensitive substring of the body source or author name.
    ``author_of`` keeps the comments by the same author as that comment (same reader
    identity or email, as a ban's purge decides), that comment included; the author's
    identities never leave the database. At most four queries per page (five with
    ``author_of``). Raises NotFound for an unknown ``author_of``; ValidationFailed for a
    bad cursor.
    """
    query = sa.select(*_QUEUE_COLUMNS).join(Article, Article.id == Comment.article_id)
    if status is QueueFilter.FLAGGED:
        query = query.where(HAS_OPEN_FLAGS)
    elif status is not QueueFilter.ALL:
        query = query.where(Comment.status == CommentStatus(status.value))
    if author_of is not None:
        author_comment = get_comment(session, author_of)
        if author_comment is None:
            raise NotFound("Comment not found.")
        query = query.where(bans.by_same_author(author_comment))
    if article_key is not None:
        query = query.where(Article.key == article_key)
    if text:
        query = query.where(
            sa.or_(
                Comment.body_source.icontains(text, autoescape=True),
                Comment.author_name.icontains(text, autoescape=True),
            )
        )
    if cursor is not None:
        query = query.where(Comment.id < audit.read_id_cursor(keyring, cursor, "queue"))
    rows: list[QueueRow] = [
        (comment, key, title, url)
        for comment, key, title, url in session.execute(query.order_by(Comment.id.desc()).limit(limit + 1))
    ]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = keyring.sign_cursor({"queue": page[-1][0].id}) if more else None
    return QueuePage(_views(session, settings, page), next_cursor)


def _moderated(session: Session, settings: Settings, comment: Comment) -> ModeratedComment:
    key, title, url = session.execute(
        sa.select(Article.key, Article.title, Article.url).where(Article.id == comment.article_id)
    ).one()
    return _views(session, settings, [(comment, key, title, url)])[0]


# --- decisions ------------------------------------------------------------------------------

def _can_move(comment: Comment, status: CommentStatus) -> bool:
    if comment.purged_at is not None:
        return False
    return status is comment.status or status in MODERATOR_TRANSITIONS[comment.status]


def _set_status(session: Session, comment: Comment, status: CommentStatus, now: datetime) -> None:
    if status is CommentStatus.PENDING and comment.status is not CommentStatus.PENDING:
        comment.moderation_reason = MODERATOR_HOLD_REASON
    change_status(session, comment, status, now=now)


def _move(session: Session, comment: Comment, status: CommentStatus, now: datetime) -> None:
    _set_status(session, comment, status, now)
    if status in RESOLVING:
        resolve_flags(session, [comment], now)


def moderate_comment(
    session: Session,
    settings: Settings,
    *,
    comment_id: int,
    decision: Decision,
    actor: str,
    now: datetime,
) -> ModeratedComment:
    """Apply a moderator's decision (status, pin, body) and audit it as one entry.

    Approving, rejecting or marking as spam closes the open flags. Approving, pinning
    or editing vouches for the current revision (``approved_revision``), which flags
    then never hold automatically. A body edit is re-rendered through the sanitiser,
    sets ``edited_at``, shows the comment as edited by a moderator, keeps the replaced
    text in the revisions and its number in the audit entry. Raises NotFound; Conflict
    for a comment withdrawn by its author or purged, or edited concurrently;
    ValidationFailed for pinning a reply.
    """
    comment = get_comment(session, comment_id)
    if comment is None:
        raise NotFound("Comment not found.")
    if comment.purged_at is not None:
        raise Conflict("This comment was purged; it cannot be changed.")
    before = comment.status
    details: dict[str, Any] = {"before": before.value}
    changed: list[str] = []
    if decision.status is not None:
        if not _can_move(comment, decision.status):
            raise Conflict(f"A {before.value} comment cannot be made {decision.status.value}.")
        details["open_flags_resolved"] = comment.open_flag_count if decision.status in RESOLVING else 0
        _move(session, comment, decision.status, now)
        if decision.status is CommentStatus.APPROVED:
            comment.approved_revision = comment.revision
        changed.append("status")
    if decision.pinned is not None:
        if decision.pinned and comment.depth != 0:
            raise ValidationFailed({"pinned": ["Only top-level comments can be pinned."]})
        details["pinned"] = {"before": comment.pinned, "after": decision.pinned}
        comment.pinned = decision.pinned
        if decision.pinned:
            comment.approved_revision = comment.revision
        changed.append("pin")
    if decision.body is not None:
        replaced = revise(session, comment, body=decision.body, editor=Editor.MODERATOR, actor=actor, now=now)
        comment.approved_revision = comment.revision  # the moderator's own text
        details["revision"] = {"before": replaced, "after": comment.revision}
        changed.append("edit")
    if "pin" in changed or "edit" in changed:
        touch_article(session, comment.article_id)
    details["after"] = comment.status.value
    action = f"comment.{changed[0]}" if len(changed) == 1 else "comment.update"
    audit.record(session, actor=actor, action=action, target=f"comment:{comment.id}", details=details, now=now)
    session.flush()
    return _moderated(session, settings, comment)


def bulk_set_status(
    session: Session, *, ids: Sequence[int], status: CommentStatus, actor: str, now: datetime
) -> int:
    """Move many comments to one status, all or nothing; returns how many changed.

    A comment counts (and gets its own audit entry) when its status changed or its
    open flags were closed. Approving vouches for each comment's current revision
    (``approved_revision``), also for those already approved. Raises ValidationFailed
    on ``ids`` when any id is unknown or any comment cannot take that status; then
    nothing changes.
    """
    wanted = list(dict.fromkeys(ids))
    comments = session.scalars(sa.select(Comment).where(Comment.id.in_(wanted)).order_by(Comment.id)).all()
    found = {comment.id for comment in comments}
    unknown = [comment_id for comment_id in wanted if comment_id not in found]
    if unknown:
        raise ValidationFailed({"ids": [f"Unknown comment ids: {', '.join(map(str, unknown))}."]})
    refused = [comment.id for comment in comments if not _can_move(comment, status)]
    if refused:
        raise ValidationFailed(
            {"ids": [f"These comments cannot be made {status.value}: {', '.join(map(str, refused))}."]}
        )
    updated = 0
    for comment in comments:
        before = comment.status
        resolved = comment.open_flag_count if status in RESOLVING else 0
        if status is CommentStatus.APPROVED:
            comment.approved_revision = comment.revision
        if before is status and not resolved:
            continue
        _set_status(session, comment, status, now)
        audit.record(
            session, actor=actor, action="comment.status", target=f"comment:{comment.id}",
            details={"before": before.value, "after": status.value, "open_flags_resolved": resolved, "bulk": True},
            now=now,
        )
        updated += 1
    if status in RESOLVING:
        resolve_flags(session, comments, now)
    session.flush()
    return updated


def purge_comment(session: Session, *, comment_id: int, actor: str, now: datetime) -> None:
    """Erase a comment's content and author details, keeping a rejected tombstone.

    The row stays so replies keep their parent; the public thread shows it as a
    deleted placeholder while it has visible replies. Its earlier versions (revisions)
    are erased too. Purging twice changes nothing. Raises NotFound.
    """
    comment = get_comment(session, comment_id)
    if comment is None:
        raise NotFound("Comment not found.")
    if comment.purged_at is not None:
        return
    before = comment.status
    clear_content(session, comment, status=CommentStatus.REJECTED, reason=PURGE_REASON, now=now)
    audit.record(
        session, actor=actor, action="comment.purge", target=f"comment:{comment.id}",
        details={"before": before.value, "after": CommentStatus.REJECTED.value}, now=now,
    )
    session.flush()


def clear_content(
    session: Session, comment: Comment, *, status: CommentStatus, reason: str, now: datetime
) -> int:
    """Erase a comment's text, author details and earlier versions, leaving a ``status``
    tombstone (the row stays, so replies keep their parent; the thread shows it as an
    empty placeholder while it has visible replies). Its open flags close and readers'
    notes, which may quote it, go. Counters follow the status change. Returns how many
    earlier versions were erased.
    """
    before = comment.status
    comment.body_source = comment.body_html = ""
    comment.author_name = comment.author_email = comment.author_url = comment.avatar_url = None
    comment.avatar_seed = ""
    comment.verified = False
    comment.edit_token_hash = None
    comment.pinned = False
    comment.purged_at = now
    comment.moderation_reason = reason
    if before is status:
        touch_article(session, comment.article_id)  # change_status touches it otherwise
    subscriptions.forget_comment(session, comment.id)
    change_status(session, comment, status, now=now, announce=False)
    events.record_for_comment(session, EventType.COMMENT_DELETED, comment, now, previous_status=before.value)
    resolve_flags(session, [comment], now)
    session.execute(
        sa.update(Flag).where(Flag.comment_id == comment.id).values(note=None)
        .execution_options(synchronize_session=False)
    )
    return session.execute(
        sa.delete(CommentRevision).where(CommentRevision.comment_id == comment.id)
        .execution_options(synchronize_session=False)
    ).rowcount


def list_revisions(session: Session, comment_id: int) -> list[CommentRevision]:
    """The replaced versions of a comment's body, oldest first. Raises NotFound."""
    if get_comment(session, comment_id) is None:
        raise NotFound("Comment not found.")
    return list(
        session.scalars(
            sa.select(CommentRevision)
            .where(CommentRevision.comment_id == comment_id)
            .order_by(CommentRevision.revision)
        ).all()
    )


# --- bans by comment ------------------------------------------------------------------------

def ban_author(session: Session, keyring: Keyring, *, request: BanRequest, actor: str, now: datetime) -> Ban:
    """Ban the identities behind a comment; with ``purge_comments`` also reject every
    pending and published comment by the same reader identity or email (not address:
    neighbours on a shared address keep theirs), recording each so lifting can restore it.

    Raises NotFound for an unknown comment.
    """
    comment = get_comment(session, request.comment_id)
    if comment is None:
        raise NotFound("Comment not found.")
    ban = bans.create_ban(
        session, keyring, comment=comment, reason=request.reason,
        duration_hours=request.duration_hours, actor=actor, now=now,
    )
    rejected: list[int] = []
    if request.purge_comments:
        for victim in session.scalars(bans.purge_targets(comment)).all():
            bans.record_purged(session, ban, victim, actor=actor, now=now)
            victim.moderation_reason = BAN_REASON
            _move(session, victim, CommentStatus.REJECTED, now)
            rejected.append(victim.id)
    audit.record(
        session, actor=actor, action="ban.create", target=f"ban:{ban.id}",
        details={
            "comment_id": comment.id,
            "reason": request.reason,
            "expires_at": iso_timestamp(ban.expires_at),
            "rejected_comment_ids": rejected,
        },
        now=now,
    )
    session.flush()
    return ban


def lift_ban(session: Session, *, ban_id: int, restore_comments: bool, actor: str, now: datetime) -> None:
    """Lift a ban; with ``restore_comments`` also put back what its purge rejected.

    A purged comment returns to its previous status (and reason) only while it is still
    rejected by that purge: a moderator's later decision on it wins. Counters follow
    (``change_status``). Raises NotFound when the ban is unknown or already lifted.
    """
    ban = bans.lift_ban(session, ban_id=ban_id, now=now)
    details: dict[str, Any] = {"reason": ban.reason}
    if restore_comments:
        restored: list[int] = []
        for comment, purged in bans.restorable(session, ban):
            comment.moderation_reason = purged.previous_reason
            change_status(session, comment, purged.previous_status, now=now)
            audit.record(
                session, actor=actor, action="comment.status", target=f"comment:{comment.id}",
                details={
                    "before": CommentStatus.REJECTED.value, "after": purged.previous_status.value,
                    "restored_by_ban_lift": ban.id,
                },
                now=now,
            )
            restored.append(comment.id)
        details["restored_comment_ids"] = restored
    audit.record(session, actor=actor, action="ban.lift", target=f"ban:{ban.id}", details=details, now=now)
    session.flush()


# --- articles -------------------------------------------------------------------------------

def _moderated_article(session: Session, settings: Settings, article: Article, now: datetime) -> ModeratedArticle:
    summary = article_summary(session, settings, article_key=article.key, now=now)
    mode = effective_moderation(article.moderation, settings)
    return ModeratedArticle(**dataclasses.asdict(summary), moderation=mode.value)


def _audit_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def update_article(
    session: Session,
    settings: Settings,
    *,
    key: str,
    changes: Mapping[str, Any],
    actor: str,
    now: datetime,
) -> ModeratedArticle:
    """Set any of title, url, comments_closed and moderation (None: the site default),
    creating the article if nobody has touched it yet. Values arrive validated.
    """
    created = find_article(session, key) is None
    article = ensure_article(session, key, now)
    before = {name: _audit_value(getattr(article, name)) for name in changes}
    for name, value in changes.items():
        setattr(article, name, value)
    if changes:
        article.updated_at = now
        touch_article(session, article.id)
    if changes.get("comments_closed") and not before["comments_closed"]:
        events.record(session, EventType.ARTICLE_CLOSED, article_id=article.id, details={"actor": actor}, now=now)
    audit.record(
        session, actor=actor, action="article.update", target=f"article:{key}"[:AUDIT_TARGET_MAX],
        details={
            "key": key,
            "created": created,
            "before": before,
            "after": {name: _audit_value(value) for name, value in changes.items()},
        },
        now=now,
    )
    session.flush()
    return _moderated_article(session, settings, article, now)


# --- stats ----------------------------------------------------------------------------------

def stats(session: Session) -> dict[str, int]:
    """Comment counts per status, plus comments with open flags (two indexed queries)."""
    counts = {status.value: 0 for status in CommentStatus}
    for status, count in session.execute(sa.select(Comment.status, sa.func.count()).group_by(Comment.status)):
        counts[status.value] = count
    counts["flagged"] = session.scalar(sa.select(sa.func.count()).where(HAS_OPEN_FLAGS)) or 0
    return counts
