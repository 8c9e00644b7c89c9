"""The moderation policy: every publish-time check in one place.

Comment creation and edits call ``evaluate``; each check may refuse the submission (by
raising a DomainError), hold it for a moderator or mark it as spam, giving a reason that
moderators see. New signals are added to ``DEFAULT_CHECKS`` (or passed as ``checks``)
without touching routes or the comment service.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import CommentsClosed, Conflict
from engagement.models import Article, Comment, CommentStatus, ModerationMode
from engagement.privacy import ReaderIdentity


@dataclass(frozen=True)
class Submission:
    """What a reader is trying to publish (a new comment, or an edit of ``comment_id``)."""

    article: Article
    body_source: str
    reader: ReaderIdentity
    now: datetime
    author_email: str | None = None
    honeypot: str | None = None
    comment_id: int | None = None

    @property
    def is_edit(self) -> bool:
        return self.comment_id is not None


@dataclass(frozen=True)
class Verdict:
    status: CommentStatus
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str | None:
        return ", ".join(self.reasons)[:200] if self.reasons else None


PUBLISH = Verdict(CommentStatus.APPROVED)

# A check returns None (no objection) or a Verdict (hold / spam), or raises to refuse.
Check = Callable[[Session, Submission, Settings], Verdict | None]


def refuse_closed_threads(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if submission.article.comments_closed:
        raise CommentsClosed()
    return None


def drop_honeypot_hits(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    # Bots fill every field; humans never see this one. Stored as spam, never public.
    if submission.honeypot:
        return Verdict(CommentStatus.SPAM, ("honeypot",))
    return None


def refuse_duplicates(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if submission.is_edit:
        return None
    since = submission.now - timedelta(minutes=settings.duplicate_window_minutes)
    duplicate = session.scalar(
        sa.select(Comment.id)
        .where(
            Comment.reader_hash == submission.reader.key,
            Comment.created_at >= since,
            Comment.article_id == submission.article.id,
            Comment.body_source == submission.body_source,
        )
        .limit(1)
    )
    if duplicate is not None:
        raise Conflict("You posted the same comment a moment ago.")
    return None


def hold_for_premoderation(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    mode = submission.article.moderation or ModerationMode(settings.moderation)
    if mode is ModerationMode.PRE and not submission.is_edit:
        return Verdict(CommentStatus.PENDING, ("premoderation",))
    return None


DEFAULT_CHECKS: tuple[Check, ...] = (
    refuse_closed_threads,
    refuse_duplicates,
    drop_honeypot_hits,
    hold_for_premoderation,
)

# Strongest verdict wins: spam over pending over approved.
_SEVERITY = {CommentStatus.APPROVED: 0, CommentStatus.PENDING: 1, CommentStatus.SPAM: 2}


def evaluate(
    session: Session,
    submission: Submission,
    settings: Settings,
    checks: Sequence[Check] = DEFAULT_CHECKS,
) -> Verdict:
    """Run every check in order and combine their verdicts.

    Raises whatever a refusing check raises (CommentsClosed, Banned, Conflict,
    ValidationFailed). Returns the strongest verdict with every reason given.
    """
    status = CommentStatus.APPROVED
    reasons: list[str] = []
    for check in checks:
        verdict = check(session, submission, settings)
        if verdict is None:
            continue
        reasons.extend(verdict.reasons)
        if _SEVERITY[verdict.status] > _SEVERITY[status]:
            status = verdict.status
    return Verdict(status, tuple(reasons)) if reasons else PUBLISH
