"""Hourly activity buckets, the trending score computed from them, and pruning.

Every counted view, reaction and newly visible comment adds one to its article's bucket
for that hour, in the same transaction as the change itself. Trending ranks articles by

    score = sum over the window's buckets of
            (w_views * views + w_comments * comments + w_reactions * reactions)
            * 0.5 ** (age_hours / half_life_hours)

where ``age_hours`` is the time from the bucket's start to now. Buckets older than the
longest window (plus a margin) are deleted by ``prune``, as are expired view marks.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import TrendingWeights
from engagement.models import ActivityBucket, Article, ViewMark
from engagement.services.statements import DIALECT_INSERTS, Database, Write, per_dialect, run


class TrendingWindow(enum.Enum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


@dataclass(frozen=True)
class WindowShape:
    hours: int  # how many hourly buckets, the current one included
    half_life_hours: float  # activity this old weighs half as much as activity now


WINDOWS: dict[TrendingWindow, WindowShape] = {
    TrendingWindow.DAY: WindowShape(hours=24, half_life_hours=6),
    TrendingWindow.WEEK: WindowShape(hours=7 * 24, half_life_hours=48),
    TrendingWindow.MONTH: WindowShape(hours=30 * 24, half_life_hours=7 * 24),
}

# Buckets are kept for the longest window plus a margin, so a late prune loses nothing.
BUCKET_RETENTION = timedelta(hours=max(shape.hours for shape in WINDOWS.values())) + timedelta(days=1)

# Only articles the site made known (a url set by a moderator or registered by its own
# pages) are ranked: keys invented by beacons never reach a "most read" box.
KNOWN_ARTICLE = Article.url.is_not(None)

@dataclass(frozen=True)
class PruneResult:
    view_marks: int
    buckets: int


# --- recording activity ------------------------------------------------------------

def bucket_hour(moment: datetime) -> datetime:
    """The start of the UTC hour containing ``moment`` (the bucket it belongs to)."""
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def record_activity(
    database: Database,
    article_id: int,
    moment: datetime,
    *,
    views: int = 0,
    comments: int = 0,
    reactions: int = 0,
    write: Write = run,
) -> None:
    """Add to the article's bucket for the hour of ``moment`` (an atomic upsert, run by ``write``)."""
    write(
        database,
        _bucket_upsert(database),
        {"article_id": article_id, "hour": bucket_hour(moment), "views": views, "comments": comments,
         "reactions": reactions},
    )


def bucket_upsert(dialect_name: str) -> sa.Insert:
    """The upsert that adds activity to a bucket (``record_activity``), to build other statements from."""
    buckets = ActivityBucket.__table__
    statement = DIALECT_INSERTS[dialect_name](buckets)
    return statement.on_conflict_do_update(
        index_elements=["article_id", "hour"],
        set_={
            "views": buckets.c.views + statement.excluded.views,
            "comments": buckets.c.comments + statement.excluded.comments,
            "reactions": buckets.c.reactions + statement.excluded.reactions,
        },
    )


# Built once per dialect (every counted view runs it); the values come as parameters.
# Core, on the table: executed with parameters, an ORM insert would go through the
# ORM's bulk-insert machinery.
_bucket_upsert = per_dialect(bucket_upsert)


def withdraw_activity(
    session: Session, article_id: int, moment: datetime, *, comments: int = 0, reactions: int = 0
) -> None:
    """Take back activity recorded for the hour of ``moment`` (never below zero; no-op once pruned)."""
    values: dict[str, object] = {}
    guards = []
    if comments:
        values["comments"] = ActivityBucket.comments - comments
        guards.append(ActivityBucket.comments >= comments)
    if reactions:
        values["reactions"] = ActivityBucket.reactions - reactions
        guards.append(ActivityBucket.reactions >= reactions)
    if not values:
        return
    session.execute(
        sa.update(ActivityBucket)
        .where(ActivityBucket.article_id == article_id, ActivityBucket.hour == bucket_hour(moment), *guards)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def count_comment(session: Session, article_id: int, created_at: datetime, delta: int, *, write: Write = run) -> None:
    """A comment became visible (delta > 0) or stopped being visible (delta < 0).

    The comment counts in the bucket of the hour it was written, so publishing a held
    comment later, or hiding it again, changes the same bucket. ``write`` runs the
    increment (``record_activity``); a withdrawal runs now.
    """
    if delta > 0:
        record_activity(session, article_id, created_at, comments=delta, write=write)
    elif delta < 0:
        withdraw_activity(session, article_id, created_at, comments=-delta)


# --- ranking -----------------------------------------------------------------------------

def decay(age_hours: float, half_life_hours: float) -> float:
    """The weight of activity ``age_hours`` old (1 now, 1/2 one half-life ago).

    The ranking computes this curve in SQL (``_ranking``); this is its definition in
    Python, the one the tests hold the database's answers to.
    """
    return 0.5 ** (max(age_hours, 0.0) / half_life_hours)


_BUCKETS = ActivityBucket.__table__
_ARTICLES = Article.__table__


def _age_hours(dialect: str, now: sa.ColumnElement[datetime]) -> sa.ColumnElement[float]:
    """How many hours before ``now`` a bucket starts (in SQL; negative for a clock running ahead)."""
    if dialect == "postgresql":
        return sa.extract("epoch", now - _BUCKETS.c.hour) / 3600.0
    return (sa.func.julianday(now) - sa.func.julianday(_BUCKETS.c.hour)) * 24.0


def _rounded(dialect: str, score: sa.ColumnElement[float]) -> sa.ColumnElement[float]:
    # Rounded before comparing so float summation order cannot split equal scores.
    if dialect == "postgresql":
        return sa.func.round(sa.cast(score, sa.Numeric), 9)
    return sa.func.round(score, 9)


class RankedArticle(NamedTuple):
    """A trending article: what the site shows of it, and its decayed score."""

    key: str
    title: str | None
    url: str | None
    views: int
    comment_count: int
    reaction_counts: str | None  # its totals, one JSON object (``articles.reaction_counts``)
    score: float


@per_dialect
def _ranking(dialect: str) -> sa.Select[Any]:
    """The ``limit`` known articles with the highest positive decayed score among buckets
    since ``since`` (``RankedArticle``'s columns), best first, ties broken by key: one statement.

    The decay is computed in SQL, ``exp(decay_rate * age)`` with ``decay_rate`` =
    -ln 2 / half-life (``decay``'s curve: never above 1 for a bucket from the future), so
    the database reads each bucket of the window once and answers only the ranking. The
    weights, the window and the limit are parameters: one statement per dialect.
    """
    now = sa.bindparam("now", type_=_BUCKETS.c.hour.type)
    age = _age_hours(dialect, now)
    weighted = (
        _BUCKETS.c.views * sa.bindparam("views_weight", type_=sa.Float)
        + _BUCKETS.c.comments * sa.bindparam("comments_weight", type_=sa.Float)
        + _BUCKETS.c.reactions * sa.bindparam("reactions_weight", type_=sa.Float)
    )
    decayed = weighted * sa.func.exp(sa.bindparam("decay_rate", type_=sa.Float) * sa.case((age > 0, age), else_=0))
    article_id = _BUCKETS.c.article_id
    if dialect == "sqlite":
        # SQLite keeps no statistics: grouped by the bare column it walks the article
        # index to group without sorting, so it reads every bucket kept, up to 31 days,
        # for a 24-hour window. Grouped by an expression it reads the window's range of
        # the (hour, article) key and sorts those.
        article_id = (article_id + sa.literal_column("0")).label("article_id")
    # Scored per article first, then joined to the articles once each (to leave out those
    # the site never made known): joined per bucket, it was a lookup for every bucket.
    scores = (
        sa.select(article_id, sa.func.sum(decayed).label("score"))
        .where(_BUCKETS.c.hour >= sa.bindparam("since", type_=_BUCKETS.c.hour.type))
        .group_by(article_id)
        .subquery("scores")
    )
    return (
        sa.select(*(_ARTICLES.c[name] for name in RankedArticle._fields[:-1]), scores.c.score)
        .join(_ARTICLES, _ARTICLES.c.id == scores.c.article_id)
        .where(scores.c.score > 0, KNOWN_ARTICLE)
        .order_by(_rounded(dialect, scores.c.score).desc(), _ARTICLES.c.key)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def rank(
    database: Database, weights: TrendingWeights, *, window: TrendingWindow, limit: int, now: datetime
) -> list[RankedArticle]:
    """The ``limit`` known articles (``KNOWN_ARTICLE``) with the highest decayed engagement
    score in ``window``, best first; ties are broken by article key, and articles with a
    zero score are left out. Exact: every bucket of the window counts (``_ranking``).

    One statement on ``database`` (``statements.run``: a session's pending changes are not
    flushed first).
    """
    shape = WINDOWS[window]
    return run(database, _ranking(database), {
        "now": now,
        "since": bucket_hour(now) - timedelta(hours=shape.hours - 1),
        "decay_rate": -math.log(2) / shape.half_life_hours,
        "views_weight": weights.views,
        "comments_weight": weights.comments,
        "reactions_weight": weights.reactions,
        "limit": limit,
    }, row=RankedArticle._make).all()


# --- pruning -----------------------------------------------------------------------------

_VIEW_MARKS = ViewMark.__table__
# Built once: counted views purge along the way. Rows another transaction is deleting are
# skipped (FOR UPDATE SKIP LOCKED on PostgreSQL), so concurrent callers never queue
# behind each other.
_PURGE_EXPIRED_MARKS = sa.delete(_VIEW_MARKS).where(
    _VIEW_MARKS.c.id.in_(
        sa.select(_VIEW_MARKS.c.id)
        .where(_VIEW_MARKS.c.expires_at <= sa.bindparam("now", type_=_VIEW_MARKS.c.expires_at.type))
        .order_by(_VIEW_MARKS.c.expires_at)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .with_for_update(skip_locked=True)
    )
)


def purge_expired_view_marks(database: Database, now: datetime, *, limit: int) -> int:
    """Delete up to ``limit`` view marks that expired before ``now`` (one statement); returns how many."""
    return run(database, _PURGE_EXPIRED_MARKS, {"now": now, "limit": limit}).rowcount


def prune_old_buckets(session: Session, now: datetime, *, limit: int) -> int:
    """Delete up to ``limit`` activity buckets older than every trending window; returns how many."""
    cutoff = bucket_hour(now) - BUCKET_RETENTION
    old = (
        sa.select(ActivityBucket.article_id, ActivityBucket.hour)
        .where(ActivityBucket.hour < cutoff)
        .order_by(ActivityBucket.hour)
        .limit(limit)
    )
    keys = [tuple(row) for row in session.execute(old)]
    if not keys:
        return 0
    result = session.execute(
        sa.delete(ActivityBucket)
        .where(sa.tuple_(ActivityBucket.article_id, ActivityBucket.hour).in_(keys))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def prune_batch(session: Session, now: datetime, *, batch_size: int) -> PruneResult:
    """One batch of pruning: expired view marks and buckets past retention. Idempotent.

    Callers commit after each batch and repeat until a batch deletes nothing.
    """
    return PruneResult(
        view_marks=purge_expired_view_marks(session, now, limit=batch_size),
        buckets=prune_old_buckets(session, now, limit=batch_size),
    )
