"""The comments feeds read: the latest published comments of an article or of the whole site."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.models import Article, Comment, CommentStatus
from engagement.services.articles import find_article_id

FEED_ENTRIES = 50


class FeedEntry(NamedTuple):
    """A published comment as a feed shows it: public fields only (no e-mail, no hashes)."""

    id: int
    parent_id: int | None
    revision: int
    author_name: str | None
    author_url: str | None
    body_html: str
    created_at: datetime
    edited_at: datetime | None
    article_key: str
    article_title: str | None
    article_url: str | None

    @property
    def updated(self) -> datetime:
        return self.edited_at or self.created_at


_LATEST = (
    sa.select(
        Comment.id, Comment.parent_id, Comment.revision, Comment.author_name, Comment.author_url, Comment.body_html,
        Comment.created_at, Comment.edited_at, Article.key, Article.title, Article.url,
    )
    .join(Article, Article.id == Comment.article_id)
    .where(Comment.status == CommentStatus.APPROVED, Comment.purged_at.is_(None))
    .order_by(Comment.id.desc())
    .limit(FEED_ENTRIES)
)


def latest_published(session: Session, *, article_key: str | None = None) -> list[FeedEntry]:
    """The newest published comments (replies included), newest first; of one article when given."""
    query = _LATEST
    if article_key is not None:
        # By id, not by key through the join: the planner then reads that article's comments
        # (ix_comments_thread_by_id) instead of walking the whole site's newest ones.
        article_id = find_article_id(session, article_key)
        if article_id is None:
            return []
        query = query.where(Comment.article_id == article_id)
    return [FeedEntry(*row) for row in session.execute(query)]
