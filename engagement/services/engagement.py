"""Reader engagement: counted views, article reactions, comment votes and article counts.

Every counter changes by an atomic SQL statement in the request's transaction, and a
unique constraint decides every race (INSERT ... ON CONFLICT, UPDATE/DELETE ...
RETURNING), so concurrent requests from many processes never lose or double a count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import CommentsClosed, Forbidden, NotFound, RateLimited
from engagement.models import Article, Comment, CommentStatus, CommentVote, Reaction, ReactionTotal, ViewMark
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import hot_views, trending
from engagement.services.budgets import UNLIMITED, Allowance, require
from engagement.models.base import MAX_ID
from engagement.services.articles import (
    closed_state,
    ensure_article_id,
    find_article_id,
    is_closed,
    touch_article,
)
from engagement.services.bans import ensure_not_banned
from engagement.services.statements import DIALECT_INSERTS, per_dialect, run

# Every this many counted views of an article, expired view marks are deleted along the
# way (four times as many as views counted since, so they never pile up; prune does the rest).
PURGE_EVERY = 16

# A vote change is retried this often when a concurrent request changed the same vote row.
VOTE_ATTEMPTS = 3


@dataclass(frozen=True)
class ArticleSummary:
    key: str
    title: str | None
    url: str | None
    views: int
    comment_count: int
    reactions: dict[str, int]
    comments_closed: bool


@dataclass(frozen=True)
class ArticleCounts:
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


@dataclass(frozen=True)
class ReactionState:
    counts: dict[str, int]
    mine: list[str]


@dataclass(frozen=True)
class VoteState:
    score: int
    upvotes: int
    downvotes: int
    my_vote: int


def _reaction_totals(session: Session, article_ids: list[int], kinds: tuple[str, ...]) -> dict[int, dict[str, int]]:
    """Reaction counts of every configured kind (zeros included) per article, in one query."""
    totals = {article_id: dict.fromkeys(kinds, 0) for article_id in article_ids}
    if not article_ids:
        return totals
    rows = session.execute(
        sa.select(ReactionTotal.article_id, ReactionTotal.kind, ReactionTotal.count).where(
            ReactionTotal.article_id.in_(article_ids), ReactionTotal.kind.in_(kinds)
        )
    )
    for article_id, kind, count in rows:
        totals[article_id][kind] = count
    return totals


# --- articles ----------------------------------------------------------------------------

def article_summary(
    session: Session,
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
    row = session.execute(
        sa.select(Article, Article.views, *unflushed.applied_columns()).where(Article.key == article_key)
    ).one_or_none()
    if row is None:
        raise NotFound("No such article.")
    article, stored_views, *applied = row
    reactions = _reaction_totals(session, [article.id], settings.reaction_kinds)[article.id]
    return ArticleSummary(
        key=article.key,
        title=article.title,
        url=article.url,
        views=unflushed.total(article.key, stored_views, applied),
        comment_count=article.comment_count,
        reactions=reactions,
        comments_closed=is_closed(article, settings, now),
    )


# Built once: a listing page asks for counts on every load, and only the keys change.
_ARTICLES_TABLE = Article.__table__
_REACTION_TOTALS = ReactionTotal.__table__
_COUNTS_BY_KEY = (
    sa.select(
        _ARTICLES_TABLE.c.key, _ARTICLES_TABLE.c.views, _ARTICLES_TABLE.c.comment_count,
        _REACTION_TOTALS.c.kind, _REACTION_TOTALS.c.count,
    )
    .outerjoin(_REACTION_TOTALS, _REACTION_TOTALS.c.article_id == _ARTICLES_TABLE.c.id)
    .where(_ARTICLES_TABLE.c.key.in_(sa.bindparam("keys", expanding=True)))
)


def article_counts(
    session: Session,
    settings: Settings,
    *,
    article_keys: list[str],
    counter: hot_views.ViewCounter | None = None,
) -> dict[str, ArticleCounts]:
    """Views, visible comments and reactions for each key (zeros for unknown keys).

    One query whatever the number of keys: the articles joined with their reaction
    totals (and one Redis round trip for the views not yet flushed when ``counter`` is
    given).
    """
    keys = list(dict.fromkeys(article_keys))
    unflushed = hot_views.unflushed_views(counter, keys)
    statement = _COUNTS_BY_KEY
    if unflushed.batches:
        statement = statement.add_columns(*unflushed.applied_columns())
    rows = run(session, statement, {"keys": keys}).all()
    kinds = settings.reaction_kinds
    found: dict[str, ArticleCounts] = {}
    for key, views, comments, kind, count, *applied in rows:
        counts = found.get(key)
        if counts is None:
            counts = found[key] = ArticleCounts(unflushed.total(key, views, applied), comments, dict.fromkeys(kinds, 0))
        if kind in counts.reactions:
            counts.reactions[kind] = count
    return {key: found.get(key) or ArticleCounts(0, 0, dict.fromkeys(kinds, 0)) for key in keys}


def trending_articles(
    session: Session,
    settings: Settings,
    *,
    window: trending.TrendingWindow,
    limit: int,
    now: datetime,
    counter: hot_views.ViewCounter | None = None,
) -> list[TrendingEntry]:
    """The articles trending in ``window`` (see ``trending.rank``) with their totals; three queries.

    With ``counter``, the view totals include views not yet flushed from Redis (one more
    query); the ranking itself sees them once flushed.
    """
    ranked = trending.rank(session, settings.trending_weights, window=window, limit=limit, now=now)
    reactions = _reaction_totals(session, [article.id for article, _ in ranked], settings.reaction_kinds)
    views = {article.key: article.views for article, _ in ranked}
    if counter is not None and ranked:
        keys = list(views)
        views.update(hot_views.current_views(session, keys, hot_views.unflushed_views(counter, keys)))
    return [
        TrendingEntry(
            key=article.key,
            title=article.title,
            url=article.url,
            score=round(score, 3),
            views=views[article.key],
            comments=article.comment_count,
            reactions=reactions[article.id],
        )
        for article, score in ranked
    ]


# --- views --------------------------------------------------------------------------------

_VIEWS_BY_ID = sa.select(_ARTICLES_TABLE.c.views).where(_ARTICLES_TABLE.c.id == sa.bindparam("article_id"))
_VIEWS_BY_KEY = sa.select(_ARTICLES_TABLE.c.views).where(_ARTICLES_TABLE.c.key == sa.bindparam("key"))


@per_dialect
def _view_claim(dialect_name: str) -> sa.Insert:
    """One statement that claims a reader's view mark, built once per dialect.

    It inserts nothing when yesterday's hash holds an unexpired mark (a window across
    midnight), and renews an existing mark only once it expired: no row returned means
    the view does not count. Of two racing requests, one claims the mark. (Core, on the
    table: executed with parameters, an ORM insert would be taken for a bulk insert.)
    """
    marks = ViewMark.__table__
    article_id = sa.bindparam("article_id", type_=sa.Integer)
    now = sa.bindparam("now", type_=marks.c.expires_at.type)
    counted_yesterday = (
        sa.select(marks.c.id)
        .where(
            marks.c.article_id == article_id,
            marks.c.visitor_hash == sa.bindparam("previous_hash", type_=sa.String),
            marks.c.expires_at > now,
        )
        .exists()
    )
    claim = DIALECT_INSERTS[dialect_name](marks).from_select(
        ["article_id", "visitor_hash", "expires_at"],
        sa.select(
            article_id,
            sa.bindparam("current_hash", type_=sa.String),
            sa.bindparam("expires_at", type_=marks.c.expires_at.type),
        ).where(~counted_yesterday),
    )
    return claim.on_conflict_do_update(
        index_elements=["article_id", "visitor_hash"],
        set_={"expires_at": claim.excluded.expires_at},
        where=marks.c.expires_at <= now,  # an unexpired mark is left alone: no count
    ).returning(marks.c.id)


# Counts one view and answers the new total.
_COUNT_VIEW = (
    sa.update(_ARTICLES_TABLE)
    .where(_ARTICLES_TABLE.c.id == sa.bindparam("article_id"))
    .values(views=_ARTICLES_TABLE.c.views + 1)
    .returning(_ARTICLES_TABLE.c.views)
)


def record_view(
    session: Session,
    keyring: Keyring,
    settings: Settings,
    *,
    article_key: str,
    reader: ReaderIdentity,
    automated: bool,
    now: datetime,
    counter: hot_views.ViewCounter | None = None,
    allowance: Allowance = UNLIMITED,
) -> int:
    """Count a view of the article unless this reader was counted within the window.

    Returns the article's view count, including this view if it counted. Automated
    requests (bots, prefetches) are never counted and never create the article, nor are
    views beyond what the reader's address may still add to the article (``allowance``,
    spent by each view that counts).

    With ``counter`` (REDIS_URL set) the mark and the increment go to Redis
    (``hot_views.count_view``); when Redis cannot be reached the view is counted here,
    in SQL, rather than failing.

    The visitor hash is keyed with a key that rotates every UTC day. A reader is not
    counted while an unexpired mark exists under today's or yesterday's hash, so a
    window spanning midnight does not count twice. The mark is claimed by one upsert
    that succeeds only if no unexpired mark exists: of two racing requests, one counts.
    """
    countable = not automated and allowance.available()
    if counter is not None:
        views = hot_views.count_view(
            session, counter, keyring, settings,
            article_key=article_key, reader=reader, countable=countable, now=now, allowance=allowance,
        )
        if views is not None:
            return views

    if not countable:
        return run(session, _VIEWS_BY_KEY, {"key": article_key}).scalar() or 0

    article_id = ensure_article_id(session, article_key, now)
    today = now.astimezone(timezone.utc).date()
    current_hash = keyring.daily_visitor_hash(reader, today)
    previous_hash = keyring.daily_visitor_hash(reader, today - timedelta(days=1))

    expires_at = now + timedelta(minutes=settings.view_window_minutes)
    claimed = run(
        session, _view_claim(session),
        {"article_id": article_id, "current_hash": current_hash, "previous_hash": previous_hash,
         "expires_at": expires_at, "now": now},
    ).first()
    if claimed is None:
        return run(session, _VIEWS_BY_ID, {"article_id": article_id}).scalar_one()

    allowance.spend()
    views = run(session, _COUNT_VIEW, {"article_id": article_id}).scalar_one()
    trending.record_activity(session, article_id, now, views=1)
    if views % PURGE_EVERY == 0:
        trending.purge_expired_view_marks(session, now, limit=PURGE_EVERY * 4)
    return views


# --- reactions -----------------------------------------------------------------------------

def _require_kind(settings: Settings, kind: str) -> None:
    if kind not in settings.reaction_kinds:
        raise NotFound(f"Unknown reaction kind. Kinds: {', '.join(settings.reaction_kinds)}.")


# Reaction statements, built once (see services.statements): every reaction runs them.
_REACTIONS = Reaction.__table__
_MINE = sa.and_(
    _REACTIONS.c.article_id == sa.bindparam("article_id"),
    _REACTIONS.c.reader_hash == sa.bindparam("reader_hash"),
)
# Each kind's total and whether this reader chose it: a reader's reaction always has a
# total row (counted when it was stored), so one query over the totals answers both.
_REACTION_STATE = sa.select(
    _REACTION_TOTALS.c.kind,
    _REACTION_TOTALS.c.count,
    sa.exists().where(_MINE, _REACTIONS.c.kind == _REACTION_TOTALS.c.kind),
).where(_REACTION_TOTALS.c.article_id == sa.bindparam("article_id"))
_WITHDRAW_REACTION = sa.delete(_REACTIONS).where(_MINE, _REACTIONS.c.kind == sa.bindparam("kind")).returning(
    _REACTIONS.c.created_at
)
_UNCOUNT_REACTION = (
    sa.update(_REACTION_TOTALS)
    .where(
        # (Parameters of UPDATE statements may not share a column's name.)
        _REACTION_TOTALS.c.article_id == sa.bindparam("of_article"), _REACTION_TOTALS.c.kind == sa.bindparam("of_kind")
    )
    .values(count=_REACTION_TOTALS.c.count - 1)
)


@per_dialect
def _store_reaction(dialect: str) -> sa.Insert:
    return (
        DIALECT_INSERTS[dialect](_REACTIONS)
        .values(
            article_id=sa.bindparam("article_id"), reader_hash=sa.bindparam("reader_hash"),
            kind=sa.bindparam("kind"), created_at=sa.bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["article_id", "reader_hash", "kind"])
        .returning(_REACTIONS.c.id)
    )


@per_dialect
def _count_reaction(dialect: str) -> sa.Insert:
    insert = DIALECT_INSERTS[dialect](_REACTION_TOTALS).values(
        article_id=sa.bindparam("article_id"), kind=sa.bindparam("kind"), count=1
    )
    return insert.on_conflict_do_update(
        index_elements=["article_id", "kind"], set_={"count": _REACTION_TOTALS.c.count + 1}
    )


def _reaction_state(
    session: Session, settings: Settings, article_id: int | None, reader: ReaderIdentity
) -> ReactionState:
    counts = dict.fromkeys(settings.reaction_kinds, 0)
    if article_id is None:
        return ReactionState(counts, [])
    mine = set()
    for kind, count, chosen in run(session, _REACTION_STATE, {"article_id": article_id, "reader_hash": reader.key}):
        if kind in counts:
            counts[kind] = count
            if chosen:
                mine.add(kind)
    return ReactionState(counts, [kind for kind in settings.reaction_kinds if kind in mine])


def reactions(session: Session, settings: Settings, *, article_key: str, reader: ReaderIdentity) -> ReactionState:
    """Reaction counts (every configured kind) and the reader's own kinds; zeros for unknown articles."""
    return _reaction_state(session, settings, find_article_id(session, article_key), reader)


def add_reaction(
    session: Session,
    settings: Settings,
    *,
    article_key: str,
    kind: str,
    reader: ReaderIdentity,
    now: datetime,
    allowance: Allowance = UNLIMITED,
) -> ReactionState:
    """React to an article (creating it on first use); repeating it changes nothing.

    Each new reaction spends ``allowance`` (what the reader's address may still add to
    the article). Raises NotFound for a kind that is not configured, Banned for a banned
    reader, RateLimited when the allowance is used up.
    """
    _require_kind(settings, kind)
    ensure_not_banned(session, reader, now)
    require(allowance, "Too many reactions to this article from your network; try again later.")
    article_id = ensure_article_id(session, article_key, now)
    reaction = {"article_id": article_id, "reader_hash": reader.key, "kind": kind}
    inserted = run(session, _store_reaction(session), {**reaction, "now": now}).first()
    if inserted is not None:
        allowance.spend()
        touch_article(session, article_id)
        run(session, _count_reaction(session), reaction)
        trending.record_activity(session, article_id, now, reactions=1)
    return _reaction_state(session, settings, article_id, reader)


def remove_reaction(
    session: Session, settings: Settings, *, article_key: str, kind: str, reader: ReaderIdentity, now: datetime
) -> ReactionState:
    """Withdraw a reaction; withdrawing one that does not exist changes nothing.

    Raises NotFound for a kind that is not configured, Banned for a banned reader.
    Never creates the article.
    """
    _require_kind(settings, kind)
    ensure_not_banned(session, reader, now)
    article_id = find_article_id(session, article_key)
    if article_id is None:
        return _reaction_state(session, settings, None, reader)
    reaction = {"article_id": article_id, "reader_hash": reader.key, "kind": kind}
    removed = run(session, _WITHDRAW_REACTION, reaction).first()
    if removed is not None:
        touch_article(session, article_id)
        run(session, _UNCOUNT_REACTION, {"of_article": article_id, "of_kind": kind})
        # Take it back from the hour it was counted in, so toggling cannot inflate trending.
        trending.withdraw_activity(session, article_id, removed.created_at, reactions=1)
    return _reaction_state(session, settings, article_id, reader)


# --- votes ---------------------------------------------------------------------------------

def _vote_delta(old: int, new: int) -> dict[str, int]:
    return {
        "score": new - old,
        "upvotes": int(new == 1) - int(old == 1),
        "downvotes": int(new == -1) - int(old == -1),
    }


# Vote statements, built once (see services.statements): every vote runs them.
_VOTES = CommentVote.__table__
_COMMENTS = Comment.__table__
# (Parameters of UPDATE statements may not share a column's name.)
_MY_VOTE = sa.and_(_VOTES.c.comment_id == sa.bindparam("voted_on"), _VOTES.c.reader_hash == sa.bindparam("voter"))
# What deciding a vote needs of the comment and its article, in one query.
_VOTE_TARGET = (
    sa.select(
        _COMMENTS.c.status, _COMMENTS.c.purged_at, _COMMENTS.c.reader_hash, _COMMENTS.c.article_id,
        _ARTICLES_TABLE.c.comments_closed, _ARTICLES_TABLE.c.created_at,
    )
    .join(_ARTICLES_TABLE, _ARTICLES_TABLE.c.id == _COMMENTS.c.article_id)
    .where(_COMMENTS.c.id == sa.bindparam("comment_id"))
)
_STORED_VOTE = sa.select(_VOTES.c.value).where(_MY_VOTE)
_WITHDRAW_VOTE = sa.delete(_VOTES).where(_MY_VOTE).returning(_VOTES.c.value)
# A stored vote is always 1 or -1, so a row this flips held -value.
_FLIP_VOTE = (
    sa.update(_VOTES)
    .where(_MY_VOTE, _VOTES.c.value == -sa.bindparam("new_value", type_=sa.Integer))
    .values(value=sa.bindparam("new_value"), updated_at=sa.bindparam("now"))
    .returning(_VOTES.c.id)
)
_VOTE_COUNTERS = (_COMMENTS.c.score, _COMMENTS.c.upvotes, _COMMENTS.c.downvotes)
_READ_VOTE_COUNTERS = sa.select(*_VOTE_COUNTERS).where(_COMMENTS.c.id == sa.bindparam("comment_id"))
_APPLY_VOTE = (
    sa.update(_COMMENTS)
    .where(_COMMENTS.c.id == sa.bindparam("comment_id"))
    .values(
        score=_COMMENTS.c.score + sa.bindparam("score_delta"),
        upvotes=_COMMENTS.c.upvotes + sa.bindparam("upvotes_delta"),
        downvotes=_COMMENTS.c.downvotes + sa.bindparam("downvotes_delta"),
    )
    .returning(*_VOTE_COUNTERS)
)


@per_dialect
def _store_vote(dialect: str) -> sa.Insert:
    return (
        DIALECT_INSERTS[dialect](_VOTES)
        .values(
            comment_id=sa.bindparam("voted_on"), reader_hash=sa.bindparam("voter"),
            value=sa.bindparam("new_value"), created_at=sa.bindparam("now"), updated_at=sa.bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["comment_id", "reader_hash"])
        .returning(_VOTES.c.id)
    )


def _change_vote(session: Session, comment_id: int, reader_key: str, value: int, now: datetime) -> int | None:
    """Store the reader's vote; return the previous value if it changed, None if it did not.

    Each step is one statement whose own row lock or unique index decides races.
    """
    mine = {"voted_on": comment_id, "voter": reader_key}
    if value == 0:
        return run(session, _WITHDRAW_VOTE, mine).scalar()
    change = {**mine, "new_value": value, "now": now}
    for _ in range(VOTE_ATTEMPTS):
        # A first vote is the common case: one statement.
        if run(session, _store_vote(session), change).first() is not None:
            return 0
        if run(session, _FLIP_VOTE, change).first() is not None:
            return -value
        if _stored_vote(session, comment_id, reader_key) == value:
            return None
        # The row changed between our statements (another request of this reader): try again.
    return None


def _stored_vote(session: Session, comment_id: int, reader_key: str) -> int:
    return run(session, _STORED_VOTE, {"voted_on": comment_id, "voter": reader_key}).scalar() or 0


def vote(
    session: Session,
    settings: Settings,
    *,
    comment_id: int,
    value: int,
    reader: ReaderIdentity,
    now: datetime,
    allowance: Allowance = UNLIMITED,
) -> VoteState:
    """Set the reader's vote on a comment to 1, -1 or 0 (withdrawn); repeating a vote changes nothing.

    The comment's score, upvotes and downvotes change by the difference between the old
    and the new vote, atomically and in the same transaction as the vote row. A new vote
    (not a change or withdrawal) spends ``allowance``, what the reader's address may still
    add to the comment. Raises NotFound (no such public comment), CommentsClosed,
    Forbidden (own comment), RateLimited (allowance used up).
    """
    target = run(session, _VOTE_TARGET, {"comment_id": comment_id}).first() if 0 < comment_id <= MAX_ID else None
    if target is None or target.status is not CommentStatus.APPROVED or target.purged_at is not None:
        raise NotFound("Comment not found.")
    if closed_state(target.comments_closed, target.created_at, settings, now):
        raise CommentsClosed()
    ensure_not_banned(session, reader, now)
    if target.reader_hash == reader.key:
        raise Forbidden("You cannot vote on your own comment.")
    if value != 0 and not allowance.available() and _stored_vote(session, comment_id, reader.key) == 0:
        raise RateLimited("Too many votes on this comment from your network; try again later.",
                          retry_after=allowance.retry_after())

    previous = _change_vote(session, comment_id, reader.key, value, now)
    if previous == 0:
        allowance.spend()
    if previous is None:
        row = run(session, _READ_VOTE_COUNTERS, {"comment_id": comment_id}).one()
        return VoteState(row.score, row.upvotes, row.downvotes, _stored_vote(session, comment_id, reader.key))

    delta = _vote_delta(previous, value)
    row = run(session, _APPLY_VOTE, {"comment_id": comment_id, **{f"{name}_delta": change for name, change in delta.items()}}).one()
    touch_article(session, target.article_id)
    return VoteState(row.score, row.upvotes, row.downvotes, value)
