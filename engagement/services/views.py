"""Counted views: at most one per reader per window, never for bots or prefetches.

A view is counted by claiming the reader's mark and adding one to the article and its
trending bucket: on PostgreSQL in one statement that stands alone (the route runs it
without a surrounding transaction, ``api.common.single_statement_writes``), on SQLite in
three statements of the request's transaction. The mark's unique constraint decides
every race.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from engagement.config import Settings
from engagement.models import ActivityBucket, ViewMark
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import hot_views, trending
from engagement.services.articles import ARTICLES, ensure_article_id
from engagement.services.budgets import UNLIMITED, Allowance
from engagement.services.statements import DIALECT_INSERTS, Database, counter_statement, dialect_name, per_dialect, run

# Every this many counted views of an article, expired view marks are deleted along the
# way (four times as many as views counted since, so they never pile up; prune does the rest).
PURGE_EVERY = 16


class ViewOutcome(enum.Enum):
    """What became of a view: counted, or why not."""

    COUNTED = "counted"
    REPEAT = "repeat"  # this reader was counted within the window
    AUTOMATED = "automated"  # a bot, crawler or speculative load
    OVER_BUDGET = "over_budget"  # the address may add no more views to this article for now


@dataclass(frozen=True)
class RecordedView:
    views: int  # the article's views, this one included if it counted
    outcome: ViewOutcome


_VIEWS_BY_KEY = sa.select(ARTICLES.c.views).where(ARTICLES.c.key == sa.bindparam("key"))


def _build_view_claim(dialect_name: str) -> sa.Insert:
    """One statement that claims a reader's view mark (``_view_claim`` builds it once per dialect).

    It finds the article by its key and returns its id when the view counts. It inserts
    nothing for an unknown article, nor when yesterday's hash holds an unexpired mark (a
    window across midnight), and renews an existing mark only once it expired: no row
    returned means the view does not count (or the article is new). Of two racing
    requests, one claims the mark. (Core, on the table: executed with parameters, an ORM
    insert would be taken for a bulk insert.)
    """
    marks = ViewMark.__table__
    now = sa.bindparam("now", type_=marks.c.expires_at.type)
    counted_yesterday = (
        sa.select(marks.c.id)
        .where(
            marks.c.article_id == ARTICLES.c.id,
            marks.c.visitor_hash == sa.bindparam("previous_hash", type_=sa.String),
            marks.c.expires_at > now,
        )
        .exists()
    )
    claim = DIALECT_INSERTS[dialect_name](marks).from_select(
        ["article_id", "visitor_hash", "expires_at"],
        sa.select(
            ARTICLES.c.id,
            sa.bindparam("current_hash", type_=sa.String),
            sa.bindparam("expires_at", type_=marks.c.expires_at.type),
        ).where(ARTICLES.c.key == sa.bindparam("viewed_key"), ~counted_yesterday),
    )
    return claim.on_conflict_do_update(
        index_elements=["article_id", "visitor_hash"],
        set_={"expires_at": claim.excluded.expires_at},
        where=marks.c.expires_at <= now,  # an unexpired mark is left alone: no count
    ).returning(marks.c.article_id)


_view_claim = per_dialect(_build_view_claim)


# Adds one view to an article and answers its new total; ``_COUNT_VIEW`` names the article by id.
_ADD_VIEW = sa.update(ARTICLES).values(views=ARTICLES.c.views + 1).returning(ARTICLES.c.views)
_COUNT_VIEW = _ADD_VIEW.where(ARTICLES.c.id == sa.bindparam("article_id"))


@functools.cache
def _claim_and_count_in_one_statement() -> sa.Select[Any]:
    """``_view_claim``, ``_ADD_VIEW`` and the hour's bucket upsert as one PostgreSQL statement.

    Every view of an article updates the same two rows (the article's, its hour's bucket),
    and each stays locked from its update to the commit: one statement for the claim and
    both, run alone in autocommit (so the commit is the statement's own end), keeps round
    trips (and the Python between statements) out of the request and out of the time
    the next view of the article waits. The count and the bucket read the
    claimed mark, so a view whose mark is not claimed changes nothing and answers no row.
    The article's key is bound as ``viewed_key``: an UPDATE of ``articles`` sets every
    column a parameter is named after.
    """
    claimed = _build_view_claim("postgresql").cte("claimed")
    counted = _ADD_VIEW.where(ARTICLES.c.id == sa.select(claimed.c.article_id).scalar_subquery()).cte("counted")
    hour = sa.bindparam("hour", type_=ActivityBucket.hour.type)
    bucketed = trending.bucket_upsert("postgresql").from_select(
        ["article_id", "hour", "views", "comments", "reactions"],
        sa.select(claimed.c.article_id, hour, sa.literal(1), sa.literal(0), sa.literal(0)),
    ).cte("bucketed")
    return sa.select(counted.c.views).add_cte(bucketed)


def record_view(
    database: Database,
    keyring: Keyring,
    settings: Settings,
    *,
    article_key: str,
    reader: ReaderIdentity,
    automated: bool,
    now: datetime,
    counter: hot_views.ViewCounter | None = None,
    allowance: Allowance = UNLIMITED,
) -> RecordedView:
    """Count a view of the article unless this reader was counted within the window.

    Returns the article's view count, including this view if it counted, and whether
    (or why not) it counted. Automated requests (bots, prefetches) are never counted and
    never create the article, nor are views beyond what the reader's address may still
    add to the article (``allowance``, spent by each view that counts).

    With ``counter`` (REDIS_URL set) the mark and the increment go to Redis
    (``hot_views.count_view``); when Redis cannot be reached the view is counted here,
    in SQL, rather than failing.

    The visitor hash is keyed with a key that rotates every UTC day. A reader is not
    counted while an unexpired mark exists under today's or yesterday's hash, so a
    window spanning midnight does not count twice. The mark is claimed by one upsert
    that succeeds only if no unexpired mark exists: of two racing requests, one counts.
    """
    refusal = _refusal(automated, allowance)
    if counter is not None:
        hot = hot_views.count_view(
            database, counter, keyring, settings,
            article_key=article_key, reader=reader, countable=refusal is None, now=now, allowance=allowance,
        )
        if hot is not None:
            views, counted = hot
            return RecordedView(views, refusal or (ViewOutcome.COUNTED if counted else ViewOutcome.REPEAT))

    if refusal is not None:
        return RecordedView(run(database, _VIEWS_BY_KEY, {"key": article_key}).scalar() or 0, refusal)

    today = now.astimezone(timezone.utc).date()
    claim = {
        "viewed_key": article_key,
        "current_hash": keyring.daily_visitor_hash(reader, today),
        "previous_hash": keyring.daily_visitor_hash(reader, today - timedelta(days=1)),
        "expires_at": now + timedelta(minutes=settings.view_window_minutes),
        "now": now,
    }
    views = _claim_and_count(database, settings, claim, now)
    if views is None:
        stored_views = run(database, _VIEWS_BY_KEY, {"key": article_key}).scalar()
        if stored_views is not None:
            return RecordedView(stored_views, ViewOutcome.REPEAT)
        ensure_article_id(database, article_key, now)  # the article's first view
        views = _claim_and_count(database, settings, claim, now)
        if views is None:  # a racing request of the same reader claimed the mark first
            return RecordedView(run(database, _VIEWS_BY_KEY, {"key": article_key}).scalar_one(), ViewOutcome.REPEAT)

    allowance.spend()
    if views % PURGE_EVERY == 0:
        trending.purge_expired_view_marks(database, now, limit=PURGE_EVERY * 4)
    return RecordedView(views, ViewOutcome.COUNTED)


def _claim_and_count(database: Database, settings: Settings, claim: dict[str, Any], now: datetime) -> int | None:
    """Claim the reader's view mark (``_view_claim``) and, when claimed, add the view to the
    article and to its hour's trending bucket: the article's new total, or None when the
    mark was not claimed (nothing counted)."""
    if dialect_name(database) == "postgresql":
        parameters = {**claim, "hour": trending.bucket_hour(now)}
        statement = counter_statement(_claim_and_count_in_one_statement(), settings.asynchronous_counter_commits)
        return run(database, statement, parameters).scalar()
    article_id = run(database, _view_claim(database), claim).scalar()  # SQLite: no UPDATE inside WITH
    if article_id is None:
        return None
    views = run(database, _COUNT_VIEW, {"article_id": article_id}).scalar_one()
    trending.record_activity(database, article_id, now, views=1)
    return views


def _refusal(automated: bool, allowance: Allowance) -> ViewOutcome | None:
    """Why the view must not count whoever sends it, or None when it may."""
    if automated:
        return ViewOutcome.AUTOMATED
    if not allowance.available():
        return ViewOutcome.OVER_BUDGET
    return None
