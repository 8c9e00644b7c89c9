"""Articles: created on first use, looked up by the site's key."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.models import Article


# INSERT constructs that support ON CONFLICT, per dialect name.
DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session: Session, table: sa.Table | type) -> sa.Insert:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    name = session.get_bind().dialect.name
    if name not in DIALECT_INSERTS:
        raise RuntimeError(f"unsupported database dialect: {name}")
    return DIALECT_INSERTS[name](table)


def find_article(session: Session, key: str) -> Article | None:
    return session.scalars(sa.select(Article).where(Article.key == key)).one_or_none()


def article_versions(session: Session, keys: list[str]) -> dict[str, tuple[int, int]]:
    """(version, views) of each existing article among ``keys``, in one indexed query.

    Views are counted without bumping the version (a thread page does not show them),
    so responses that show views validate on both.
    """
    if not keys:
        return {}
    rows = session.execute(sa.select(Article.key, Article.version, Article.views).where(Article.key.in_(keys)))
    return {key: (version, views) for key, version, views in rows}


def ensure_article(session: Session, key: str, now: datetime) -> Article:
    """Return the article with this key, creating it if nobody has touched it yet.

    Race-free: concurrent first uses insert at most one row (ON CONFLICT DO NOTHING).
    """
    article = find_article(session, key)
    if article is not None:
        return article
    statement = (
        dialect_insert(session, Article)
        .values(key=key, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    session.execute(statement)
    article = find_article(session, key)
    assert article is not None  # inserted just now, or by the request we raced with
    return article


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def register_article(
    session: Session,
    *,
    key: str,
    url: str,
    title: str | None,
    request_origin: str | None,
    site_origins: Sequence[str],
    now: datetime,
) -> bool:
    """Let one of the site's own pages name its article (url and title); first write wins.

    Accepted only when the url's origin is one of the site's configured origins (never
    the wildcard) and equals the origin the request came from; only an article that has
    no url yet takes it (moderators can change it later). Creates nothing: an article
    nobody counted or commented on is not registered. Returns whether it was set.
    """
    origin = origin_of(url)
    allowed = {configured.rstrip("/").lower() for configured in site_origins if configured != "*"}
    if origin is None or origin not in allowed or (request_origin or "").rstrip("/").lower() != origin:
        return False
    result = session.execute(
        sa.update(Article)
        .where(Article.key == key, Article.url.is_(None))
        .values(url=url, title=title, updated_at=now, version=Article.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def touch_article(session: Session, article_id: int, *, comment_delta: int = 0) -> None:
    """Record a public change: bump the version (for HTTP validators) and adjust the comment count."""
    values: dict[str, object] = {"version": Article.version + 1}
    if comment_delta:
        values["comment_count"] = Article.comment_count + comment_delta
    session.execute(sa.update(Article).where(Article.id == article_id).values(**values))


def is_closed(article: Article, settings: Settings, now: datetime) -> bool:
    """Whether the thread refuses new comments, votes and flags.

    Closed by a moderator (``comments_closed``), or by age: older than
    ``settings.auto_close_days`` days since the article was first seen (0 turns that off).
    """
    return closed_state(article.comments_closed, article.created_at, settings, now)


def closed_state(comments_closed: bool, created_at: datetime, settings: Settings, now: datetime) -> bool:
    """``is_closed`` from the two columns it depends on (for callers without the row)."""
    if comments_closed:
        return True
    days = settings.auto_close_days
    return days > 0 and now - created_at > timedelta(days=days)
