"""Reactions to articles: one per reader and kind, with a running total per kind.

A reaction is stored or withdrawn by one atomic statement (INSERT ... ON CONFLICT,
DELETE); the database's triggers change its kind's total, its article's version and
its trending bucket within that statement (``models.triggers``), so concurrent requests
from many processes never lose or double a count. Every write here is one statement
that stands alone (the article's creation on first use too), so the routes may run
them without a surrounding transaction (``api.common.single_statement_writes``). On
PostgreSQL a new reaction's state is read by its write's own statement: one round trip.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import NotFound
from engagement.models import Reaction, ReactionTotal
from engagement.privacy import ReaderIdentity
from engagement.services.articles import ARTICLE_ID_BY_KEY, ARTICLES, ensure_article_id, find_article_id
from engagement.services.bans import ban_parameters, ensure_not_banned, reader_banned
from engagement.services.budgets import UNLIMITED, Allowance, require
from engagement.services.statements import DIALECT_INSERTS, Database, counter_statement, dialect_name, per_dialect, run


@dataclass(frozen=True)
class ReactionState:
    counts: dict[str, int]
    mine: list[str]


def _require_kind(settings: Settings, kind: str) -> None:
    if kind not in settings.reaction_kinds:
        raise NotFound(f"Unknown reaction kind. Kinds: {', '.join(settings.reaction_kinds)}.")


# Reaction statements, built once (see services.statements): every reaction runs them.
_REACTIONS = Reaction.__table__
_REACTION_TOTALS = ReactionTotal.__table__
_ARTICLE_OF_KEY = ARTICLE_ID_BY_KEY.scalar_subquery()
# Each kind's total and whether this reader chose it, for the article with key ``key``: a
# reader's reaction always has a total row (counted when it was stored), so one query
# over the totals answers both.
_REACTION_STATE = sa.select(
    _REACTION_TOTALS.c.kind,
    _REACTION_TOTALS.c.count,
    sa.exists().where(
        _REACTIONS.c.article_id == _REACTION_TOTALS.c.article_id,
        _REACTIONS.c.reader_hash == sa.bindparam("reader_hash"),
        _REACTIONS.c.kind == _REACTION_TOTALS.c.kind,
    ).label("chosen"),
).where(_REACTION_TOTALS.c.article_id == _ARTICLE_OF_KEY)
_WITHDRAW_REACTION = (
    sa.delete(_REACTIONS)
    .where(
        _REACTIONS.c.article_id == _ARTICLE_OF_KEY,
        _REACTIONS.c.reader_hash == sa.bindparam("reader_hash"),
        _REACTIONS.c.kind == sa.bindparam("kind"),
    )
    .returning(_REACTIONS.c.kind)
)


def _build_store_reaction(dialect: str) -> sa.Insert:
    """Store a reader's reaction to the article with key ``key``: returns its article's id
    when stored; no row for an unknown article, a reaction the reader already gave, or a
    banned reader (``bans.reader_banned``: the caller then asks why). (``_store_reaction``
    builds it once per dialect.)"""
    columns = ("article_id", "reader_hash", "kind")
    article = sa.select(
        ARTICLES.c.id, sa.bindparam("reader_hash", type_=sa.String), sa.bindparam("kind", type_=sa.String),
        sa.bindparam("now", type_=_REACTIONS.c.created_at.type),
    ).where(ARTICLES.c.key == sa.bindparam("key"), ~reader_banned())
    insert = DIALECT_INSERTS[dialect](_REACTIONS).from_select([*columns, "created_at"], article)
    return insert.on_conflict_do_nothing(index_elements=list(columns)).returning(_REACTIONS.c.article_id)


_store_reaction = per_dialect(_build_store_reaction)


@functools.cache
def _state_and_store_in_one_statement() -> sa.Select[Any]:
    """``_REACTION_STATE`` and ``_store_reaction`` as one PostgreSQL statement: a row per
    kind's total (at least one row, its kind NULL for an article without totals), each
    saying whether the reaction was stored.

    Every statement of a PostgreSQL query reads the same snapshot, taken before the
    INSERT in its WITH ran, so the totals are the state before this reaction, as when the
    two are run one after the other; the INSERT runs whether or not a total is read.
    """
    stored = _build_store_reaction("postgresql").cte("stored")
    totals = _REACTION_STATE.subquery("totals")
    always = sa.select(sa.literal(1).label("one")).subquery("always")
    return sa.select(
        totals.c.kind, totals.c.count, totals.c.chosen, sa.exists(sa.select(stored.c.article_id)).label("stored"),
    ).select_from(always.outerjoin(totals, sa.true()))


def _reaction_state(database: Database, settings: Settings, article_key: str, reader: ReaderIdentity) -> ReactionState:
    """Every configured kind's total (zeros for an unknown article) and the reader's own kinds."""
    return _state_of(settings, run(database, _REACTION_STATE, {"key": article_key, "reader_hash": reader.key}))


def _state_of(settings: Settings, totals: Iterable[Any]) -> ReactionState:
    """The state from (kind, total, chosen by the reader) rows; kinds not configured are left out."""
    counts = dict.fromkeys(settings.reaction_kinds, 0)
    mine = set()
    for kind, count, chosen, *_ in totals:
        if kind in counts:
            counts[kind] = count
            if chosen:
                mine.add(kind)
    return ReactionState(counts, [kind for kind in settings.reaction_kinds if kind in mine])


def _state_and_store(
    database: Database, settings: Settings, reader: ReaderIdentity, reaction: dict[str, Any]
) -> tuple[ReactionState, bool]:
    """The state before storing ``reaction`` (``_store_reaction``'s parameters), and whether it was stored."""
    if dialect_name(database) == "postgresql":
        statement = counter_statement(_state_and_store_in_one_statement(), settings.asynchronous_counter_commits)
        rows = run(database, statement, reaction).all()
        return _state_of(settings, rows), rows[0].stored
    state = _reaction_state(database, settings, reaction["key"], reader)
    return state, _store(database, reaction)


def _store(database: Database, reaction: dict[str, Any]) -> bool:
    return run(database, _store_reaction(database), reaction).scalar() is not None


def _changed(state: ReactionState, settings: Settings, kind: str, *, given: bool) -> ReactionState:
    """``state`` with the reader's reaction of ``kind`` given (or withdrawn) since it was read."""
    mine = (set(state.mine) | {kind}) if given else (set(state.mine) - {kind})
    total = state.counts[kind] + (1 if given else -1)
    return ReactionState(
        {**state.counts, kind: max(total, 0)}, [known for known in settings.reaction_kinds if known in mine]
    )


def reactions(database: Database, settings: Settings, *, article_key: str, reader: ReaderIdentity) -> ReactionState:
    """Reaction counts (every configured kind) and the reader's own kinds; zeros for unknown articles."""
    return _reaction_state(database, settings, article_key, reader)


def add_reaction(
    database: Database,
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

    The state answered is read before the reaction is stored, with the new reaction
    added: storing it is the request's last statement (on PostgreSQL, its only one), so
    the rows its bookkeeping changes (the article's, the kind's total) stay locked until
    the commit and no longer (on PostgreSQL, one round trip less for every reaction
    waiting on them).
    """
    _require_kind(settings, kind)
    reaction = {"key": article_key, "reader_hash": reader.key, "kind": kind, **ban_parameters(reader, now)}
    if allowance.available():
        state, stored = _state_and_store(database, settings, reader, reaction)
    else:
        state = _reaction_state(database, settings, article_key, reader)
        ensure_not_banned(database, reader, now)
        # Repeating a reaction the reader already gave spends nothing, so it is answered
        # even past the budget (PUT stays idempotent); only a new one is refused.
        if kind in state.mine:
            return state
        require(allowance, "Too many reactions to this article from your network; try again later.")
        stored = _store(database, reaction)
    if not stored:
        ensure_not_banned(database, reader, now)  # nothing stored: banned (refused), given already, or a new article
        if kind in state.mine:  # given already: nothing changes
            return state
        if find_article_id(database, article_key) is not None:  # given by a racing request of the same reader
            return _reaction_state(database, settings, article_key, reader)
        ensure_article_id(database, article_key, now)  # the article's first use
        if not _store(database, reaction):
            # A racing request of the same reader stored it first.
            return _reaction_state(database, settings, article_key, reader)
    allowance.spend()  # the total, the article's version and trending followed the row (models.triggers)
    return _changed(state, settings, kind, given=True)


def remove_reaction(
    database: Database, settings: Settings, *, article_key: str, kind: str, reader: ReaderIdentity, now: datetime
) -> ReactionState:
    """Withdraw a reaction; withdrawing one that does not exist changes nothing.

    Raises NotFound for a kind that is not configured, Banned for a banned reader.
    Never creates the article. As with ``add_reaction``, the state is read first and
    the delete is the last statement.
    """
    _require_kind(settings, kind)
    ensure_not_banned(database, reader, now)
    state = _reaction_state(database, settings, article_key, reader)
    # The total, the version and the hour's bucket it was counted in follow (models.triggers):
    # taken back from that hour, so toggling cannot inflate trending.
    withdrawn = run(database, _WITHDRAW_REACTION, {"key": article_key, "reader_hash": reader.key, "kind": kind})
    if withdrawn.first() is None:
        return state
    return _changed(state, settings, kind, given=False)


_READER_REACTIONS = sa.delete(_REACTIONS).where(_REACTIONS.c.reader_hash == sa.bindparam("reader_hash"))


def withdraw_reader_reactions(session: Session, reader_key: str) -> int:
    """Withdraw every reaction of one reader, totals and trending with them (``models.triggers``);
    returns how many."""
    return run(session, _READER_REACTIONS, {"reader_hash": reader_key}).rowcount
