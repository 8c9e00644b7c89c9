"""Votes on comments: one per reader, 1 or -1, and the comment's score.

The vote row and the comment's counters change in one transaction, each by one atomic
statement; a unique constraint and the row lock decide every race.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import Banned, CommentsClosed, Forbidden, NotFound, RateLimited
from engagement.models import Comment, CommentStatus, CommentVote
from engagement.models.base import MAX_ID
from engagement.privacy import ReaderIdentity
from engagement.services.articles import ARTICLES, article_touch, closed_state, touch_article
from engagement.services.bans import ban_parameters, reader_banned
from engagement.services.budgets import UNLIMITED, Allowance
from engagement.services.statements import Database, dialect_name, insert_new, per_dialect, run

# A vote change is retried this often when a concurrent request changed the same vote row.
VOTE_ATTEMPTS = 3



@dataclass(frozen=True)
class VoteState:
    score: int
    upvotes: int
    downvotes: int
    my_vote: int


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
        ARTICLES.c.comments_closed, ARTICLES.c.created_at, reader_banned().label("voter_banned"),
    )
    .join(ARTICLES, ARTICLES.c.id == _COMMENTS.c.article_id)
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


@functools.cache
def _apply_vote_and_touch_article() -> sa.Select[Any]:
    """``_APPLY_VOTE`` and the article's version bump as one PostgreSQL statement.

    Every vote on a comment updates the comment's row and its article's, and each stays
    locked from its update to the commit: one statement for both keeps a round trip (and
    the Python between two statements) out of the time the next vote waits. The
    counters are read by the outer SELECT, so the comment's update runs (and locks)
    first, as with two statements.
    """
    applied = _APPLY_VOTE.cte("applied")
    touched = article_touch("voted_article").cte("touched")
    return sa.select(*applied.c).add_cte(touched)


@per_dialect
def _store_vote(dialect: str) -> sa.Insert:
    values = {
        "comment_id": sa.bindparam("voted_on"), "reader_hash": sa.bindparam("voter"), "value": sa.bindparam("new_value"),
        "created_at": sa.bindparam("now"), "updated_at": sa.bindparam("now"),
    }
    return insert_new(dialect, _VOTES, values, unique=("comment_id", "reader_hash"))


def _change_vote(database: Database, comment_id: int, reader_key: str, value: int, now: datetime) -> int | None:
    """Store the reader's vote; return the previous value if it changed, None if it did not.

    Each step is one statement whose own row lock or unique index decides races.
    """
    mine = {"voted_on": comment_id, "voter": reader_key}
    if value == 0:
        return run(database, _WITHDRAW_VOTE, mine).scalar()
    change = {**mine, "new_value": value, "now": now}
    for _ in range(VOTE_ATTEMPTS):
        # A first vote is the common case: one statement.
        if run(database, _store_vote(database), change).first() is not None:
            return 0
        if run(database, _FLIP_VOTE, change).first() is not None:
            return -value
        if _stored_vote(database, comment_id, reader_key) == value:
            return None
        # The row changed between our statements (another request of this reader): try again.
    return None


def _stored_vote(database: Database, comment_id: int, reader_key: str) -> int:
    return run(database, _STORED_VOTE, {"voted_on": comment_id, "voter": reader_key}).scalar() or 0


def vote(
    database: Database,
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
    target = None
    if 0 < comment_id <= MAX_ID:
        target = run(database, _VOTE_TARGET, {"comment_id": comment_id, **ban_parameters(reader, now)}).first()
    if target is None or target.status is not CommentStatus.APPROVED or target.purged_at is not None:
        raise NotFound("Comment not found.")
    if closed_state(target.comments_closed, target.created_at, settings, now):
        raise CommentsClosed()
    if target.voter_banned:
        raise Banned()
    if target.reader_hash == reader.key:
        raise Forbidden("You cannot vote on your own comment.")
    if value != 0 and not allowance.available() and _stored_vote(database, comment_id, reader.key) == 0:
        raise RateLimited("Too many votes on this comment from your network; try again later.",
                          retry_after=allowance.retry_after())

    previous = _change_vote(database, comment_id, reader.key, value, now)
    if previous == 0:
        allowance.spend()
    if previous is None:
        row = run(database, _READ_VOTE_COUNTERS, {"comment_id": comment_id}).one()
        return VoteState(row.score, row.upvotes, row.downvotes, _stored_vote(database, comment_id, reader.key))

    row = _apply_vote(database, comment_id, target.article_id, _vote_delta(previous, value))
    return VoteState(row.score, row.upvotes, row.downvotes, value)


def _apply_vote(database: Database, comment_id: int, article_id: int, delta: dict[str, int]) -> sa.Row[Any]:
    """Change the comment's counters by ``delta`` and bump its article's version; the new counters."""
    changes = {"comment_id": comment_id, **{f"{name}_delta": change for name, change in delta.items()}}
    if dialect_name(database) == "postgresql":
        statement = _apply_vote_and_touch_article()
        return run(database, statement, {**changes, "voted_article": article_id, "delta": 0}).one()
    row = run(database, _APPLY_VOTE, changes).one()  # SQLite: no UPDATE inside WITH
    touch_article(database, article_id)
    return row


_READER_VOTES = sa.delete(_VOTES).where(_VOTES.c.reader_hash == sa.bindparam("voter")).returning(
    _VOTES.c.comment_id, _VOTES.c.value
)
_ARTICLES_OF_COMMENTS = sa.select(_COMMENTS.c.article_id).where(
    _COMMENTS.c.id.in_(sa.bindparam("comment_ids", expanding=True))
).distinct()


def withdraw_reader_votes(session: Session, reader_key: str) -> int:
    """Withdraw every vote of one reader, each comment's counters changing with it; returns how many."""
    withdrawn = run(session, _READER_VOTES, {"voter": reader_key}).all()
    for comment_id, value in withdrawn:
        delta = _vote_delta(value, 0)
        run(session, _APPLY_VOTE, {"comment_id": comment_id, **{f"{name}_delta": change for name, change in delta.items()}})
    if withdrawn:
        comment_ids = sorted({comment_id for comment_id, _ in withdrawn})
        for article_id in run(session, _ARTICLES_OF_COMMENTS, {"comment_ids": comment_ids}).scalars():
            touch_article(session, article_id)
    return len(withdrawn)
