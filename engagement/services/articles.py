"""Articles: created on first use, looked up by the site's key."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings, comparable_origin
from engagement.models import Article, ModerationMode
from engagement.services.statements import DIALECT_INSERTS, Database, Write, dialect_name, per_dialect, run

ARTICLES = Article.__table__

# The id of the article with key ``key`` (also a subquery of statements that take a key).
ARTICLE_ID_BY_KEY = sa.select(ARTICLES.c.id).where(ARTICLES.c.key == sa.bindparam("key"))
# Built once: posting a comment loads its article, and building the statement each time
# cost more than running it.
_ARTICLE_BY_KEY = sa.select(Article).where(Article.key == sa.bindparam("key"))


def article_touch(article_id: str | sa.ColumnElement[int] = "article_id") -> sa.Update:
    """A public change: the version (for HTTP validators) goes up, the comment count by ``delta``.

    The article's id is bound as ``article_id``, or under another name where the statement
    joins an UPDATE of a table that has an ``article_id`` column (the parameters of a
    statement are shared, and an UPDATE sets every column a parameter is named after), or
    is given as an expression (what another part of the same statement returns).
    """
    article = sa.bindparam(article_id) if isinstance(article_id, str) else article_id
    return (
        sa.update(ARTICLES)
        .where(ARTICLES.c.id == article)
        .values(version=ARTICLES.c.version + 1, comment_count=ARTICLES.c.comment_count + sa.bindparam("delta"))
    )


_TOUCH_ARTICLE = article_touch()


@per_dialect
def _create_article(dialect: str) -> sa.Insert:
    return (
        DIALECT_INSERTS[dialect](ARTICLES)
        .values(key=sa.bindparam("key"), created_at=sa.bindparam("now"), updated_at=sa.bindparam("now"))
        .on_conflict_do_nothing(index_elements=["key"])
    )


class ThreadArticle(Protocol):
    """What judging and placing a comment needs of its article: an ``Article`` has it all."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def comments_closed(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def moderation(self) -> ModerationMode | None: ...


class ArticleRow(NamedTuple):
    """A ``ThreadArticle`` read as a plain row, with its comment count: what a thread page
    and posting need, at a fraction of an ORM load."""

    id: int
    key: str
    comment_count: int
    comments_closed: bool
    created_at: datetime
    moderation: ModerationMode | None
    version: int  # what the thread page's validator names


_ARTICLE_ROW = sa.select(*(ARTICLES.c[name] for name in ArticleRow._fields)).where(
    ARTICLES.c.key == sa.bindparam("key")
)


def find_article_row(database: Database, key: str) -> ArticleRow | None:
    row = run(database, _ARTICLE_ROW, {"key": key}).first()
    return None if row is None else ArticleRow(*row)


def posting_article(session: Session, key: str, now: datetime) -> ArticleRow:
    """``ensure_article`` for posting: the article's row, created on first use."""
    article = find_article_row(session, key)
    if article is None:
        ensure_article_id(session, key, now)
        article = find_article_row(session, key)
        assert article is not None  # inserted just now, or by the request we raced with
    return article


def dialect_insert(session: Session, table: sa.Table | type) -> sa.Insert:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return DIALECT_INSERTS[dialect_name(session)](table)


def find_article(session: Session, key: str) -> Article | None:
    return session.scalars(_ARTICLE_BY_KEY, {"key": key}).one_or_none()


def find_article_id(database: Database, key: str) -> int | None:
    """The article's id, without loading the row (the paths that only count need no more)."""
    return run(database, ARTICLE_ID_BY_KEY, {"key": key}).scalar()


def ensure_article_id(database: Database, key: str, now: datetime) -> int:
    """``ensure_article`` for callers that need only the id."""
    article_id = find_article_id(database, key)
    if article_id is None:
        run(database, _create_article(database), {"key": key, "now": now})
        article_id = find_article_id(database, key)
        assert article_id is not None  # inserted just now, or by the request we raced with
    return article_id


_VERSIONS = sa.select(ARTICLES.c.key, ARTICLES.c.version, ARTICLES.c.views).where(
    ARTICLES.c.key.in_(sa.bindparam("keys", expanding=True))
)


def article_versions(database: Database, keys: list[str]) -> dict[str, tuple[int, int]]:
    """(version, views) of each existing article among ``keys``, in one indexed query.

    Views are counted without bumping the version (a thread page does not show them),
    so responses that show views validate on both.
    """
    if not keys:
        return {}
    return {key: (version, views) for key, version, views in run(database, _VERSIONS, {"keys": keys})}


def thread_state(article: ArticleRow | None, settings: Settings, now: datetime) -> tuple[int, bool, bool] | None:
    """(version, closed now, premoderated) of the article's thread, or None for an unknown article: what a
    thread page depends on. Premoderation is in because the site default changes with a restart, not with
    the version."""
    if article is None:
        return None
    return (
        article.version,
        closed_state(article.comments_closed, article.created_at, settings, now),
        is_premoderated(article.moderation, settings),
    )


def ensure_article(session: Session, key: str, now: datetime) -> Article:
    """Return the article with this key, creating it if nobody has touched it yet.

    Race-free: concurrent first uses insert at most one row (ON CONFLICT DO NOTHING).
    """
    article = find_article(session, key)
    if article is None:  # first use: created (or found, after a race) by ensure_article_id
        article = session.get(Article, ensure_article_id(session, key, now))
        assert article is not None
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


# A page names its article: only one that has no url yet takes it (first write wins). The
# parameters are not named after columns: an UPDATE sets every column a parameter is named after.
_NAME_ARTICLE = (
    sa.update(ARTICLES)
    .where(ARTICLES.c.key == sa.bindparam("named_key"), ARTICLES.c.url.is_(None))
    .values(
        url=sa.bindparam("page_url"), title=sa.bindparam("page_title"), updated_at=sa.bindparam("now"),
        version=ARTICLES.c.version + 1,
    )
)


def register_article(
    database: Database,
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
    nobody counted or commented on is not registered. One statement that stands alone.
    Returns whether it was set.
    """
    origin = origin_of(url)
    allowed = {comparable_origin(configured) for configured in site_origins if configured != "*"}
    if origin is None or origin not in allowed or comparable_origin(request_origin or "") != origin:
        return False
    named = run(database, _NAME_ARTICLE, {"named_key": key, "page_url": url, "page_title": title, "now": now})
    return bool(named.rowcount)


def touch_article(database: Database, article_id: int, *, comment_delta: int = 0, write: Write = run) -> None:
    """Record a public change: bump the version (for HTTP validators) and adjust the comment count.

    ``write`` runs the UPDATE: now (``run``), or with the commit (``statements.at_commit``).
    """
    write(database, _TOUCH_ARTICLE, {"article_id": article_id, "delta": comment_delta})


def is_closed(article: ThreadArticle, settings: Settings, now: datetime) -> bool:
    """Whether the thread refuses new comments, votes and flags.

    Closed by a moderator (``comments_closed``), or by age: older than
    ``settings.auto_close_days`` days since the article was first seen (0 turns that off).
    """
    return closed_state(article.comments_closed, article.created_at, settings, now)


def effective_moderation(moderation: ModerationMode | None, settings: Settings) -> ModerationMode:
    """The moderation mode a thread runs under: the article's own, else the site default."""
    return moderation or ModerationMode(settings.moderation)


def is_premoderated(moderation: ModerationMode | None, settings: Settings) -> bool:
    """Whether new comments wait for a moderator."""
    return effective_moderation(moderation, settings) is ModerationMode.PRE


def closed_state(comments_closed: bool, created_at: datetime, settings: Settings, now: datetime) -> bool:
    """``is_closed`` from the two columns it depends on (for callers without the row)."""
    if comments_closed:
        return True
    since = open_since(settings, now)
    return since is not None and created_at < since


def open_since(settings: Settings, now: datetime) -> datetime | None:
    """The earliest first-seen moment of an article whose thread is open by age at ``now``
    (None: threads never close by age); for statements that check ``closed_state`` themselves."""
    days = settings.auto_close_days
    return now - timedelta(days=days) if days > 0 else None
