"""Reader engagement: counted views, article reactions, comment votes and article counts.

Every counter changes by an atomic SQL statement in the request's transaction, and a
unique constraint decides every race (INSERT ... ON CONFLICT, UPDATE/DELETE ...
RETURNING), so concurrent requests from many processes never lose or double a count.
"""
from __future__ import annotations

import functools
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
from engagement.services.articles import (
    DIALECT_INSERTS,
    dialect_insert,
    ensure_article,
    find_article,
    is_closed,
    touch_article,
)
from engagement.services.bans import ensure_not_banned
from engagement.services.comments import get_comment

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
_COUNTS_BY_KEY = (
    sa.select(Article.key, Article.views, Article.comment_count, ReactionTotal.kind, ReactionTotal.count)
    .outerjoin(ReactionTotal, ReactionTotal.article_id == Article.id)
    .where(Article.key.in_(sa.bindparam("keys", expanding=True)))
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
    rows = session.execute(statement, {"keys": keys})
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

def _current_views(session: Session, article_id: int) -> int:
    return session.scalars(sa.select(Article.views).where(Article.id == article_id)).one()


@functools.lru_cache(maxsize=4)
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
_ARTICLES = Article.__table__
_COUNT_VIEW = (
    sa.update(_ARTICLES)
    .where(_ARTICLES.c.id == sa.bindparam("article_id"))
    .values(views=_ARTICLES.c.views + 1)
    .returning(_ARTICLES.c.views)
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
        article = find_article(session, article_key)
        return article.views if article is not None else 0

    article = ensure_article(session, article_key, now)
    today = now.astimezone(timezone.utc).date()
    current_hash = keyring.daily_visitor_hash(reader, today)
    previous_hash = keyring.daily_visitor_hash(reader, today - timedelta(days=1))

    expires_at = now + timedelta(minutes=settings.view_window_minutes)
    claimed = session.execute(
        _view_claim(session.get_bind().dialect.name),
        {"article_id": article.id, "current_hash": current_hash, "previous_hash": previous_hash,
         "expires_at": expires_at, "now": now},
    ).first()
    if claimed is None:
        return _current_views(session, article.id)

    allowance.spend()
    views = session.execute(_COUNT_VIEW, {"article_id": article.id}).scalar_one()
    trending.record_activity(session, article.id, now, views=1)
    if views % PURGE_EVERY == 0:
        trending.purge_expired_view_marks(session, now, limit=PURGE_EVERY * 4)
    return views


# --- reactions -----------------------------------------------------------------------------

def _require_kind(settings: Settings, kind: str) -> None:
    if kind not in settings.reaction_kinds:
        raise NotFound(f"Unknown reaction kind. Kinds: {', '.join(settings.reaction_kinds)}.")


def _reaction_state(
    session: Session, settings: Settings, article_id: int | None, reader: ReaderIdentity
) -> ReactionState:
    if article_id is None:
        return ReactionState(dict.fromkeys(settings.reaction_kinds, 0), [])
    counts = _reaction_totals(session, [article_id], settings.reaction_kinds)[article_id]
    mine = set(
        session.scalars(
            sa.select(Reaction.kind).where(Reaction.article_id == article_id, Reaction.reader_hash == reader.key)
        )
    )
    return ReactionState(counts, [kind for kind in settings.reaction_kinds if kind in mine])


def reactions(session: Session, settings: Settings, *, article_key: str, reader: ReaderIdentity) -> ReactionState:
    """Reaction counts (every configured kind) and the reader's own kinds; zeros for unknown articles."""
    article = find_article(session, article_key)
    return _reaction_state(session, settings, article.id if article else None, reader)


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
    article = ensure_article(session, article_key, now)
    inserted = session.execute(
        dialect_insert(session, Reaction)
        .values(article_id=article.id, reader_hash=reader.key, kind=kind, created_at=now)
        .on_conflict_do_nothing(index_elements=["article_id", "reader_hash", "kind"])
        .returning(Reaction.id)
    ).first()
    if inserted is not None:
        allowance.spend()
        touch_article(session, article.id)
        total = dialect_insert(session, ReactionTotal).values(article_id=article.id, kind=kind, count=1)
        session.execute(
            total.on_conflict_do_update(
                index_elements=["article_id", "kind"], set_={"count": ReactionTotal.count + 1}
            )
        )
        trending.record_activity(session, article.id, now, reactions=1)
    return _reaction_state(session, settings, article.id, reader)


def remove_reaction(
    session: Session, settings: Settings, *, article_key: str, kind: str, reader: ReaderIdentity, now: datetime
) -> ReactionState:
    """Withdraw a reaction; withdrawing one that does not exist changes nothing.

    Raises NotFound for a kind that is not configured, Banned for a banned reader.
    Never creates the article.
    """
    _require_kind(settings, kind)
    ensure_not_banned(session, reader, now)
    article = find_article(session, article_key)
    if article is None:
        return _reaction_state(session, settings, None, reader)
    removed = session.execute(
        sa.delete(Reaction)
        .where(Reaction.article_id == article.id, Reaction.reader_hash == reader.key, Reaction.kind == kind)
        .returning(Reaction.created_at)
        .execution_options(synchronize_session=False)
    ).first()
    if removed is not None:
        touch_article(session, article.id)
        session.execute(
            sa.update(ReactionTotal)
            .where(ReactionTotal.article_id == article.id, ReactionTotal.kind == kind)
            .values(count=ReactionTotal.count - 1)
            .execution_options(synchronize_session=False)
        )
        # Take it back from the hour it was counted in, so toggling cannot inflate trending.
        trending.withdraw_activity(session, article.id, removed.created_at, reactions=1)
    return _reaction_state(session, settings, article.id, reader)


# --- votes ---------------------------------------------------------------------------------

def _vote_delta(old: int, new: int) -> dict[str, int]:
    return {
        "score": new - old,
        "upvotes": int(new == 1) - int(old == 1),
        "downvotes": int(new == -1) - int(old == -1),
    }


def _change_vote(session: Session, comment_id: int, reader_key: str, value: int, now: datetime) -> int | None:
    """Store the reader's vote; return the previous value if it changed, None if it did not.

    Each step is one statement whose own row lock or unique index decides races: a
    stored vote is always 1 or -1, so a row flipped by the UPDATE held -value.
    """
    mine = (CommentVote.comment_id == comment_id, CommentVote.reader_hash == reader_key)
    if value == 0:
        deleted = session.execute(
            sa.delete(CommentVote)
            .where(*mine)
            .returning(CommentVote.value)
            .execution_options(synchronize_session=False)
        ).first()
        return deleted.value if deleted is not None else None
    for _ in range(VOTE_ATTEMPTS):
        flipped = session.execute(
            sa.update(CommentVote)
            .where(*mine, CommentVote.value == -value)
            .values(value=value, updated_at=now)
            .returning(CommentVote.id)
            .execution_options(synchronize_session=False)
        ).first()
        if flipped is not None:
            return -value
        inserted = session.execute(
            dialect_insert(session, CommentVote)
            .values(comment_id=comment_id, reader_hash=reader_key, value=value, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["comment_id", "reader_hash"])
            .returning(CommentVote.id)
        ).first()
        if inserted is not None:
            return 0
        stored = session.scalar(sa.select(CommentVote.value).where(*mine))
        if stored == value:
            return None
        # The row changed between our statements (another request of this reader): try again.
    return None


def _stored_vote(session: Session, comment_id: int, reader_key: str) -> int:
    stored = session.scalar(
        sa.select(CommentVote.value).where(CommentVote.comment_id == comment_id, CommentVote.reader_hash == reader_key)
    )
    return stored or 0


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
    comment = get_comment(session, comment_id)
    if comment is None or comment.status is not CommentStatus.APPROVED or comment.purged_at is not None:
        raise NotFound("Comment not found.")
    article = session.get(Article, comment.article_id)
    assert article is not None
    if is_closed(article, settings, now):
        raise CommentsClosed()
    ensure_not_banned(session, reader, now)
    if comment.reader_hash == reader.key:
        raise Forbidden("You cannot vote on your own comment.")
    if value != 0 and not allowance.available() and _stored_vote(session, comment.id, reader.key) == 0:
        raise RateLimited("Too many votes on this comment from your network; try again later.",
                          retry_after=allowance.retry_after())

    previous = _change_vote(session, comment.id, reader.key, value, now)
    if previous == 0:
        allowance.spend()
    counters = (Comment.score, Comment.upvotes, Comment.downvotes)
    if previous is None:
        row = session.execute(sa.select(*counters).where(Comment.id == comment.id)).one()
        return VoteState(row.score, row.upvotes, row.downvotes, _stored_vote(session, comment.id, reader.key))

    delta = _vote_delta(previous, value)
    row = session.execute(
        sa.update(Comment)
        .where(Comment.id == comment.id)
        .values(
            score=Comment.score + delta["score"],
            upvotes=Comment.upvotes + delta["upvotes"],
            downvotes=Comment.downvotes + delta["downvotes"],
        )
        .returning(*counters)
        .execution_options(synchronize_session=False)
    ).one()
    touch_article(session, article.id)
    return VoteState(row.score, row.upvotes, row.downvotes, value)
