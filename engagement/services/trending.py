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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import TrendingWeights
from engagement.models import ActivityBucket, Article, ViewMark
from engagement.services.statements import DIALECT_INSERTS, Database, per_dialect, run


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

# How many candidate articles per requested one the first ranking round reads.
CANDIDATE_FACTOR = 5


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
) -> None:
    """Add to the article's bucket for the hour of ``moment`` (an atomic upsert)."""
    run(
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


def count_comment(session: Session, article_id: int, created_at: datetime, delta: int) -> None:
    """A comment became visible (delta > 0) or stopped being visible (delta < 0).

    The comment counts in the bucket of the hour it was written, so publishing a held
    comment later, or hiding it again, changes the same bucket.
    """
    if delta > 0:
        record_activity(session, article_id, created_at, comments=delta)
    elif delta < 0:
        withdraw_activity(session, article_id, created_at, comments=-delta)


# --- ranking -----------------------------------------------------------------------------

def decay(age_hours: float, half_life_hours: float) -> float:
    """The weight of activity ``age_hours`` old (1 now, 1/2 one half-life ago)."""
    return 0.5 ** (max(age_hours, 0.0) / half_life_hours)


def _weighted(weights: TrendingWeights) -> sa.ColumnElement[float]:
    return (
        ActivityBucket.views * weights.views
        + ActivityBucket.comments * weights.comments
        + ActivityBucket.reactions * weights.reactions
    )


def _decayed_scores(
    session: Session, weights: TrendingWeights, shape: WindowShape, since: datetime, now: datetime, candidates: int
) -> tuple[dict[int, float], list[float]]:
    """Decayed scores of the ``candidates`` articles with the most raw activity since ``since``.

    Returns {article_id: decayed score} and the raw (undecayed) sums of those candidates,
    highest first; one query.
    """
    raw = sa.func.sum(_weighted(weights)).label("raw")
    ranked = (
        sa.select(ActivityBucket.article_id, raw)
        .join(Article, Article.id == ActivityBucket.article_id)
        .where(ActivityBucket.hour >= since, KNOWN_ARTICLE)
        .group_by(ActivityBucket.article_id)
        .order_by(raw.desc(), ActivityBucket.article_id)
        .limit(candidates)
        .subquery()
    )
    rows = session.execute(
        sa.select(ActivityBucket.article_id, ActivityBucket.hour, _weighted(weights), ranked.c.raw)
        .join(ranked, ranked.c.article_id == ActivityBucket.article_id)
        .where(ActivityBucket.hour >= since)
    ).all()
    scores: dict[int, float] = {}
    raw_sums: dict[int, float] = {}
    for article_id, hour, weighted, raw_sum in rows:
        age_hours = (now - hour).total_seconds() / 3600
        scores[article_id] = scores.get(article_id, 0.0) + float(weighted) * decay(age_hours, shape.half_life_hours)
        raw_sums[article_id] = float(raw_sum)
    return scores, sorted(raw_sums.values(), reverse=True)


def rank(
    session: Session, weights: TrendingWeights, *, window: TrendingWindow, limit: int, now: datetime
) -> list[tuple[Article, float]]:
    """The ``limit`` known articles (``KNOWN_ARTICLE``) with the highest decayed engagement
    score in ``window``, best first.

    Exact, with bounded work: decay never raises a score, so an article whose raw sum is
    below the limit-th decayed score cannot enter the ranking. The candidate set grows
    (doubling) only until the weakest candidate's raw sum falls below that bound. Ties
    are broken by article key. Articles with a zero score are left out.
    """
    shape = WINDOWS[window]
    since = bucket_hour(now) - timedelta(hours=shape.hours - 1)
    candidates = limit * CANDIDATE_FACTOR
    while True:
        scores, raw_sums = _decayed_scores(session, weights, shape, since, now, candidates)
        positive = sorted((score for score in scores.values() if score > 0), reverse=True)
        exhausted = len(raw_sums) < candidates or raw_sums[-1] <= 0
        if exhausted or (len(positive) >= limit and raw_sums[-1] < positive[limit - 1]):
            break
        candidates *= 2

    ids = [article_id for article_id, score in scores.items() if score > 0]
    if not ids:
        return []
    articles = {article.id: article for article in session.scalars(sa.select(Article).where(Article.id.in_(ids)))}
    # Rounded before comparing so float summation order cannot split equal scores.
    ranked = sorted(ids, key=lambda article_id: (-round(scores[article_id], 9), articles[article_id].key))
    return [(articles[article_id], scores[article_id]) for article_id in ranked[:limit]]


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
