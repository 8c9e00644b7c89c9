"""What the site shows about articles: one article's counters, counts for a listing, trending."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from engagement.config import Settings
from engagement.errors import NotFound
from engagement.services import hot_views, trending
from engagement.services.articles import ARTICLES, closed_state
from engagement.services.statements import Database, dialect_name, in_values, run


@dataclass(frozen=True)
class ArticleSummary:
    key: str
    title: str | None
    url: str | None
    views: int
    comment_count: int
    reactions: dict[str, int]
    comments_closed: bool


@dataclass
class ArticleCounts:
    """One article's entry in a counts answer; a listing builds up to 100 per request.

    Neither frozen (its ``__init__`` would set each field through ``object.__setattr__``,
    three times the cost) nor slotted (orjson, which writes the answer from these entries
    directly, reads a slotted dataclass at half the speed of one with a ``__dict__``). Its
    fields are ArticleCountsSchema's, in that order (``schemas.engagement.counts_json``).
    """

    views: int
    comments: int
    reactions: dict[str, int]


@dataclass(frozen=True)
class TrendingEntry:
    key: str
    title: str | None
    url: str | None
    score: float
    views: int
    comments: int
    reactions: dict[str, int]


def article_summary(
    database: Database,
    settings: Settings,
    *,
    article_key: str,
    now: datetime,
    counter: hot_views.ViewCounter | None = None,
) -> ArticleSummary:
    """An article's public counters (views counted in Redis included when ``counter`` is given).

    Raises NotFound when nobody has touched the article.
    """
    unflushed = hot_views.unflushed_views(counter, [article_key])
    row = run(
        database, _summary_by_key(len(unflushed.batches)), {"key": article_key, **unflushed.parameters()}
    ).first()
    if row is None:
        raise NotFound("No such article.")
    key, title, url, stored_views, comment_count, stored_reactions, comments_closed, created_at, *applied = row
    return ArticleSummary(
        key=key,
        title=title,
        url=url,
        views=unflushed.total(key, stored_views, applied),
        comment_count=comment_count,
        reactions=_configured(stored_reactions, dict.fromkeys(settings.reaction_kinds, 0)),
        comments_closed=closed_state(comments_closed, created_at, settings, now),
    )


@functools.lru_cache(maxsize=hot_views.BUILT_BATCH_COUNTS)
def _summary_by_key(batches: int) -> sa.Select[Any]:
    """One article's counters and what closes its thread, by ``key``, and whether each of
    ``batches`` unflushed view batches is applied (``hot_views``).

    Built once (per number of batches): an article's summary is read on page loads, and
    building an ORM statement and loading an ``Article`` cost several times the query.
    """
    return sa.select(
        ARTICLES.c.key, ARTICLES.c.title, ARTICLES.c.url, ARTICLES.c.views, ARTICLES.c.comment_count,
        ARTICLES.c.reaction_counts, ARTICLES.c.comments_closed, ARTICLES.c.created_at,
        *hot_views.applied_columns(batches),
    ).where(ARTICLES.c.key == sa.bindparam("key"))


@functools.lru_cache(maxsize=hot_views.BUILT_BATCH_COUNTS)
def _counts_by_key(dialect: str, batches: int) -> sa.Select[Any]:
    """Views, comments and the reaction totals (a JSON object), a row per article among ``keys``,
    and whether each of ``batches`` unflushed view batches is applied (``hot_views``).

    Built once per dialect (and number of batches): a listing page asks for counts on
    every load, and only the keys change. The totals are the article's own
    ``reaction_counts`` (kept by the database from ``reaction_totals``), so each key is
    one index lookup.
    """
    return sa.select(
        ARTICLES.c.key, ARTICLES.c.views, ARTICLES.c.comment_count, ARTICLES.c.reaction_counts,
        *hot_views.applied_columns(batches),
    ).where(in_values(dialect, ARTICLES.c.key, "keys"))


def _configured(stored: str | None, zeros: dict[str, int]) -> dict[str, int]:
    """The stored totals (a JSON object) of the configured kinds (``zeros``' keys, in their order), zeros included."""
    reactions = zeros | orjson.loads(stored) if stored else dict(zeros)
    if len(reactions) != len(zeros):  # totals of kinds no longer configured
        reactions = {kind: reactions[kind] for kind in zeros}
    return reactions


def article_counts(
    database: Database,
    settings: Settings,
    *,
    article_keys: list[str],
    counter: hot_views.ViewCounter | None = None,
) -> dict[str, ArticleCounts]:
    """Views, visible comments and reactions for each key (zeros for unknown keys).

    One query whatever the number of keys (and one Redis round trip for the views not
    yet flushed when ``counter`` is given).
    """
    keys = list(dict.fromkeys(article_keys))
    zeros = dict.fromkeys(settings.reaction_kinds, 0)
    unflushed = hot_views.unflushed_views(counter, keys)
    statement = _counts_by_key(dialect_name(database), len(unflushed.batches))
    rows = run(database, statement, {"keys": keys, **unflushed.parameters()}, row=tuple)
    found = {
        # By position (``_counts_by_key``'s columns): unpacking the trailing applied flags
        # with ``*`` would build a list per row, and there are up to 100 rows.
        row[0]: ArticleCounts(unflushed.total(row[0], row[1], row[4:]), row[2], _configured(row[3], zeros))
        for row in rows
    }
    return {key: found.get(key) or ArticleCounts(0, 0, dict(zeros)) for key in keys}


def trending_articles(
    database: Database,
    settings: Settings,
    *,
    window: trending.TrendingWindow,
    limit: int,
    now: datetime,
    counter: hot_views.ViewCounter | None = None,
) -> list[TrendingEntry]:
    """The articles trending in ``window`` (see ``trending.rank``) with their totals; one query.

    With ``counter``, the view totals include views not yet flushed from Redis (one more
    query); the ranking itself sees them once flushed.
    """
    ranked = trending.rank(database, settings.trending_weights, window=window, limit=limit, now=now)
    zeros = dict.fromkeys(settings.reaction_kinds, 0)
    views = {article.key: article.views for article in ranked}
    if counter is not None and ranked:
        keys = list(views)
        views.update(hot_views.current_views(database, keys, hot_views.unflushed_views(counter, keys)))
    return [
        TrendingEntry(
            key=article.key,
            title=article.title,
            url=article.url,
            score=round(article.score, 3),
            views=views[article.key],
            comments=article.comment_count,
            reactions=_configured(article.reaction_counts, zeros),
        )
        for article in ranked
    ]
