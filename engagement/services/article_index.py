"""The moderators' index of articles: search, three orders, keyset pages.

Each row carries what a moderator sorts by: the comment count (a stored counter), the
open flags and pending comments (summed over the few comments that have them, through
the partial and status indexes), and the last activity (the newest hourly bucket the
trending code keeps, else when the article was first seen).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import ValidationFailed
from engagement.models import ActivityBucket, Article, Comment, CommentStatus
from engagement.privacy import Keyring
from engagement.services.articles import closed_state, effective_moderation
from engagement.services.moderation import HAS_OPEN_FLAGS

CURSOR_KIND = "articles"


class ArticleOrder(enum.Enum):
    ACTIVITY = "activity"  # most recent activity first
    COMMENTS = "comments"  # most visible comments first
    FLAGS = "flags"  # most open flags first


@dataclass(frozen=True)
class IndexedArticle:
    key: str
    title: str | None
    url: str | None
    comment_count: int
    pending: int
    open_flags: int
    comments_closed: bool
    moderation: str
    created_at: datetime
    last_activity_at: datetime


@dataclass
class ArticlePage:
    articles: list[IndexedArticle]
    next_cursor: str | None


def _order_columns() -> tuple[dict[ArticleOrder, sa.ColumnElement[Any]], sa.Select[Any]]:
    flags = (
        sa.select(Comment.article_id, sa.func.sum(Comment.open_flag_count).label("n"))
        .where(HAS_OPEN_FLAGS).group_by(Comment.article_id).subquery("open_flags")
    )
    pending = (
        sa.select(Comment.article_id, sa.func.count().label("n"))
        .where(Comment.status == CommentStatus.PENDING).group_by(Comment.article_id).subquery("pending")
    )
    activity = (
        sa.select(ActivityBucket.article_id, sa.func.max(ActivityBucket.hour).label("hour"))
        .group_by(ActivityBucket.article_id).subquery("activity")
    )
    open_flags = sa.func.coalesce(flags.c.n, 0)
    last_activity = sa.func.coalesce(activity.c.hour, Article.created_at)
    query = (
        sa.select(Article, open_flags, sa.func.coalesce(pending.c.n, 0), last_activity)
        .outerjoin(flags, flags.c.article_id == Article.id)
        .outerjoin(pending, pending.c.article_id == Article.id)
        .outerjoin(activity, activity.c.article_id == Article.id)
    )
    return {
        ArticleOrder.ACTIVITY: last_activity,
        ArticleOrder.COMMENTS: Article.comment_count,
        ArticleOrder.FLAGS: open_flags,
    }, query


def _read_cursor(keyring: Keyring, cursor: str, order: ArticleOrder) -> tuple[Any, int]:
    """The (sort value, article id) a signed cursor of this order resumes after; ValidationFailed otherwise."""
    payload = keyring.read_cursor(cursor)
    entry = payload.get(CURSOR_KIND) if isinstance(payload, dict) else None
    if isinstance(entry, list) and len(entry) == 3 and entry[0] == order.value and isinstance(entry[2], int):
        value = entry[1]
        if order is ArticleOrder.ACTIVITY and isinstance(value, str):
            try:
                return datetime.fromisoformat(value), entry[2]
            except ValueError:
                pass
        elif order is not ArticleOrder.ACTIVITY and isinstance(value, int) and not isinstance(value, bool):
            return value, entry[2]
    raise ValidationFailed({"cursor": ["Invalid cursor."]})


def list_articles(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    text: str | None,
    order: ArticleOrder,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> ArticlePage:
    """One page of articles in ``order`` (ties: newest article first), keyset-paged; one query.

    ``text`` is a case-insensitive substring of the key or the title. Raises
    ValidationFailed for a cursor that does not verify or belongs to another order.
    """
    columns, query = _order_columns()
    sort_value = columns[order]
    if text:
        query = query.where(
            sa.or_(Article.key.icontains(text, autoescape=True), Article.title.icontains(text, autoescape=True))
        )
    if cursor is not None:
        value, after_id = _read_cursor(keyring, cursor, order)
        query = query.where(sa.or_(sort_value < value, sa.and_(sort_value == value, Article.id < after_id)))
    rows = session.execute(query.order_by(sort_value.desc(), Article.id.desc()).limit(limit + 1)).all()
    page = [
        IndexedArticle(
            key=article.key, title=article.title, url=article.url, comment_count=article.comment_count,
            pending=pending, open_flags=open_flags,
            comments_closed=closed_state(article.comments_closed, article.created_at, settings, now),
            moderation=effective_moderation(article.moderation, settings).value,
            created_at=article.created_at, last_activity_at=last_activity,
        )
        for article, open_flags, pending, last_activity in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        value = {
            # Full precision: a first-seen time has microseconds, and the keyset compares exactly.
            ArticleOrder.ACTIVITY: last.last_activity_at.isoformat(),
            ArticleOrder.COMMENTS: last.comment_count,
            ArticleOrder.FLAGS: last.open_flags,
        }[order]
        last_id = rows[limit - 1][0].id
        next_cursor = keyring.sign_cursor({CURSOR_KIND: [order.value, value, last_id]})
    return ArticlePage(page, next_cursor)
