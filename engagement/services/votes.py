"""Votes on comments: one per reader, 1 or -1, and the comment's score.

The vote row and the comment's counters change together; each change is one atomic
statement, and a unique constraint and the row lock decide every race. On PostgreSQL the vote row's
change, the counters' and the article's version are one statement that stands alone, so
the route runs it without a surrounding transaction (``api.common.single_statement_writes``),
and a reader's first vote on a comment is stored by the statement that reads the comment;
on SQLite they are three statements in the request's transaction.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import Banned, CommentsClosed, Forbidden, NotFound, RateLimited
from engagement.models import Comment, CommentStatus, CommentVote
from engagement.models.base import MAX_ID
from engagement.privacy import ReaderIdentity
from engagement.services.articles import ARTICLES, article_touch, closed_state, open_since, touch_article
from engagement.services.bans import ban_parameters, reader_banned
from engagement.services.budgets import UNLIMITED, Allowance
from engagement.services.statements import Database, counter_statement, dialect_name, insert_new, per_dialect, run

# A vote change is retried this often when a concurrent request changed the same vote row.
VOTE_ATTEMPTS = 3



@dataclass(frozen=True)
class VoteState:
    score: int
    upvotes: int
    downvotes: int
    my_vote: int


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
# The three ways a vote row changes, each one statement that answers the comment's id and
# the vote's value before and after (``_apply_change`` turns those into the counters'
# changes). No row: nothing changed.
_WITHDRAW_VOTE = sa.delete(_VOTES).where(_MY_VOTE).returning(
    _VOTES.c.comment_id, _VOTES.c.value.label("old_value"), sa.literal_column("0", sa.Integer).label("new_value")
)
# A stored vote is always 1 or -1, so a row this flips held -value.
_FLIP_VOTE = (
    sa.update(_VOTES)
    .where(_MY_VOTE, _VOTES.c.value == -sa.bindparam("new_value", type_=sa.Integer))
    .values(value=sa.bindparam("new_value"), updated_at=sa.bindparam("now"))
    .returning(_VOTES.c.comment_id, (-_VOTES.c.value).label("old_value"), _VOTES.c.value.label("new_value"))
)
_VOTE_COUNTERS = (_COMMENTS.c.score, _COMMENTS.c.upvotes, _COMMENTS.c.downvotes)
_READ_VOTE_COUNTERS = sa.select(*_VOTE_COUNTERS).where(_COMMENTS.c.id == sa.bindparam("comment_id"))


def _counted(value: sa.ColumnElement[int], counted: int) -> sa.ColumnElement[int]:
    """1 when the vote ``value`` is ``counted`` (1 or -1), else 0."""
    return sa.case((value == counted, 1), else_=0)


def _moved_counters(old: sa.ColumnElement[int], new: sa.ColumnElement[int]) -> dict[str, sa.ColumnElement[int]]:
    """The comment's counters moved by a vote going from ``old`` to ``new`` (each 1, -1 or 0)."""
    return {
        "score": _COMMENTS.c.score + new - old,
        "upvotes": _COMMENTS.c.upvotes + _counted(new, 1) - _counted(old, 1),
        "downvotes": _COMMENTS.c.downvotes + _counted(new, -1) - _counted(old, -1),
    }


# The counters moved by one vote change, its values bound as parameters.
_APPLY_VOTE = (
    sa.update(_COMMENTS)
    .where(_COMMENTS.c.id == sa.bindparam("comment_id"))
    .values(**_moved_counters(sa.bindparam("old_value", type_=sa.Integer), sa.bindparam("new_value", type_=sa.Integer)))
    .returning(*_VOTE_COUNTERS)
)


# A reader's first vote on a comment: its row's values, bound as parameters, and what
# storing it answers (as the other changes of a vote row do).
_NEW_VOTE = {
    "comment_id": sa.bindparam("voted_on", type_=_VOTES.c.comment_id.type),
    "reader_hash": sa.bindparam("voter", type_=_VOTES.c.reader_hash.type),
    "value": sa.bindparam("new_value", type_=_VOTES.c.value.type),
    "created_at": sa.bindparam("now", type_=_VOTES.c.created_at.type),
    "updated_at": sa.bindparam("now", type_=_VOTES.c.updated_at.type),
}
_NEW_VOTE_ANSWER = (
    _VOTES.c.comment_id, sa.literal_column("0", sa.Integer).label("old_value"), _VOTES.c.value.label("new_value"),
)
_VOTE_KEY = ("comment_id", "reader_hash")


@per_dialect
def _store_vote(dialect: str) -> sa.Insert:
    return insert_new(dialect, _VOTES, _NEW_VOTE, unique=_VOTE_KEY, returning=_NEW_VOTE_ANSWER)


@functools.cache
def _changed_and_applied(change: sa.Insert | sa.Update | sa.Delete) -> sa.Select[Any]:
    """A vote change (``_store_vote``, ``_FLIP_VOTE``, ``_WITHDRAW_VOTE``), the comment's
    counters following it and its article's version bump, as one PostgreSQL statement
    that answers the new counters and the vote's old value (no row: nothing changed).

    Every vote on a comment updates the comment's row and its article's. Run alone, in
    autocommit (``api.common.single_statement_writes``), the statement holds those locks
    only while it runs: the next vote on the comment no longer waits for this request's
    other statements and its COMMIT. The counters are updated from what the vote row's
    change returned, so they move exactly with it; a change that matched no row updates
    nothing.
    """
    applied, touched = _bookkeeping(change)
    return sa.select(applied.c.score, applied.c.upvotes, applied.c.downvotes, applied.c.old_value).add_cte(touched)


def _bookkeeping(change: sa.Insert | sa.Update | sa.Delete) -> tuple[sa.CTE, sa.CTE]:
    """The comment's counters moved by what ``change`` returned (``applied``, with the
    vote's old value) and its article's version bump (``touched``), as CTEs."""
    changed = change.cte("changed")
    applied = (
        sa.update(_COMMENTS)
        .where(_COMMENTS.c.id == changed.c.comment_id)
        .values(**_moved_counters(changed.c.old_value, changed.c.new_value))
        .returning(*_VOTE_COUNTERS, _COMMENTS.c.article_id, changed.c.old_value)
        .cte("applied")
    )
    touched = article_touch(sa.select(applied.c.article_id).scalar_subquery()).cte("touched")
    return applied, touched


@functools.cache
def _target_and_first_vote_in_one_statement() -> sa.Select[Any]:
    """``_VOTE_TARGET`` and a reader's first vote on the comment, with its bookkeeping
    (``_changed_and_applied`` of ``_store_vote``), as one PostgreSQL statement.

    The vote is stored only if the target takes it: a public comment, in a thread open
    now (``articles.open_since`` bound as ``open_since``), by another reader, from a
    reader no ban matches; what ``vote`` checks on the target row, so a vote it refuses
    is never stored. The answer is the target's row (none: no such comment) with the new
    counters, NULL when nothing was stored (refused, or the reader voted on it before).
    """
    target = _VOTE_TARGET.cte("target")
    opened_since = sa.bindparam("open_since", type_=ARTICLES.c.created_at.type)
    takes_the_vote = sa.and_(
        target.c.status == CommentStatus.APPROVED,
        target.c.purged_at.is_(None),
        sa.not_(target.c.comments_closed),
        sa.or_(opened_since.is_(None), target.c.created_at >= opened_since),
        sa.not_(target.c.voter_banned),
        target.c.reader_hash != _NEW_VOTE["reader_hash"],
    )
    store = (
        postgresql.insert(_VOTES)
        .from_select(list(_NEW_VOTE), sa.select(*_NEW_VOTE.values()).where(takes_the_vote))
        .on_conflict_do_nothing(index_elements=list(_VOTE_KEY))
        .returning(*_NEW_VOTE_ANSWER)
    )
    applied, touched = _bookkeeping(store)
    return (
        sa.select(*target.c, applied.c.score, applied.c.upvotes, applied.c.downvotes)
        .select_from(target.outerjoin(applied, sa.true()))
        .add_cte(touched)
    )


def _change_vote(
    database: Database,
    settings: Settings,
    comment_id: int,
    article_id: int,
    reader_key: str,
    value: int,
    now: datetime,
    *,
    voted_before: bool = False,
) -> tuple[int, Any] | None:
    """Store the reader's vote and change the comment's counters with it: the previous
    value and the new counters, or None when the vote already was ``value``.

    Each change of the vote row is one statement whose own row lock or unique index
    decides races (on PostgreSQL, with the counters and the article's version in it).
    A first vote is tried first, unless the reader is known to have ``voted_before``.
    """
    change = {"voted_on": comment_id, "voter": reader_key, "new_value": value, "now": now}
    if value == 0:
        forms: tuple[sa.Insert | sa.Update | sa.Delete, ...] = (_WITHDRAW_VOTE,)
    elif voted_before:
        forms = (_FLIP_VOTE, _store_vote(database))
    else:
        forms = (_store_vote(database), _FLIP_VOTE)
    for _ in range(VOTE_ATTEMPTS):
        for form in forms:
            applied = _apply_change(database, settings, form, change, article_id)
            if applied is not None:
                return applied
        if value == 0 or _stored_vote(database, comment_id, reader_key) == value:
            return None
        # The row changed between our statements (another request of this reader): try again.
    return None


def _apply_change(
    database: Database,
    settings: Settings,
    change: sa.Insert | sa.Update | sa.Delete,
    parameters: dict[str, Any],
    article_id: int,
) -> tuple[int, Any] | None:
    """Run one vote change and, when it changed the row, the counters' and the article's
    bookkeeping: (the vote's old value, the new counters), or None."""
    if dialect_name(database) == "postgresql":
        statement = counter_statement(_changed_and_applied(change), settings.asynchronous_counter_commits)
        row = run(database, statement, {**parameters, "delta": 0}).first()
        return None if row is None else (row.old_value, row)
    changed = run(database, change, parameters).first()  # SQLite: no UPDATE inside WITH
    if changed is None:
        return None
    moved = {"comment_id": changed.comment_id, "old_value": changed.old_value, "new_value": changed.new_value}
    row = run(database, _APPLY_VOTE, moved).one()
    touch_article(database, article_id)
    return changed.old_value, row


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

    On PostgreSQL a first vote is stored by the statement that reads its target, when the
    target takes it (``_target_and_first_vote_in_one_statement``): one round trip.
    """
    target = stored = None
    voted_before = False  # known when a first vote found the reader's earlier one
    if 0 < comment_id <= MAX_ID:
        parameters = {"comment_id": comment_id, **ban_parameters(reader, now)}
        if value != 0 and allowance.available() and dialect_name(database) == "postgresql":
            # A first vote, the common case: stored with the target's read, one round trip.
            first_vote = {
                **parameters, "voted_on": comment_id, "voter": reader.key, "new_value": value, "delta": 0,
                "open_since": open_since(settings, now),
            }
            statement = counter_statement(
                _target_and_first_vote_in_one_statement(), settings.asynchronous_counter_commits
            )
            target = run(database, statement, first_vote).first()
            stored = target if target is not None and target.score is not None else None
            voted_before = stored is None
        else:
            target = run(database, _VOTE_TARGET, parameters).first()
    if target is None or target.status is not CommentStatus.APPROVED or target.purged_at is not None:
        raise NotFound("Comment not found.")
    if closed_state(target.comments_closed, target.created_at, settings, now):
        raise CommentsClosed()
    if target.voter_banned:
        raise Banned()
    if target.reader_hash == reader.key:
        raise Forbidden("You cannot vote on your own comment.")
    if stored is not None:  # the target took the vote, as the checks above agree
        allowance.spend()
        return VoteState(stored.score, stored.upvotes, stored.downvotes, value)
    if value != 0 and not allowance.available() and _stored_vote(database, comment_id, reader.key) == 0:
        raise RateLimited("Too many votes on this comment from your network; try again later.",
                          retry_after=allowance.retry_after())

    changed = _change_vote(
        database, settings, comment_id, target.article_id, reader.key, value, now, voted_before=voted_before
    )
    if changed is None:
        row = run(database, _READ_VOTE_COUNTERS, {"comment_id": comment_id}).one()
        return VoteState(row.score, row.upvotes, row.downvotes, _stored_vote(database, comment_id, reader.key))
    previous, row = changed
    if previous == 0:
        allowance.spend()
    return VoteState(row.score, row.upvotes, row.downvotes, value)


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
        run(session, _APPLY_VOTE, {"comment_id": comment_id, "old_value": value, "new_value": 0})
    if withdrawn:
        comment_ids = sorted({comment_id for comment_id, _ in withdrawn})
        for article_id in run(session, _ARTICLES_OF_COMMENTS, {"comment_ids": comment_ids}).scalars():
            touch_article(session, article_id)
    return len(withdrawn)
