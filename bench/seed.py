"""Realistic benchmark data, bulk-inserted straight into a freshly migrated database.

What is written (ids are explicit, so later stages can address rows arithmetically):

- ``THREAD_SMALL`` (article id 1): 100 comments, 40 top-level and 60 replies up to depth 4,
  one pinned, a few held for moderation, votes on about 40 % of them;
- ``THREAD_LARGE`` (id 2): 1,000 comments, 400 top-level, same mix;
- ``LIVE`` (id 3): 20 comments, the target of the write scenarios;
- ``LISTING_COUNT`` listing articles (ids ``FIRST_LISTING_ID``...) with view counts, comment
  counts, reaction totals and, for 30 % of them, hourly activity spread over the month
  trending keeps (``trending.BUCKET_RETENTION``).

The data is the same on every backend (a fixed random seed). Rows go in through
SQLAlchemy Core ``executemany`` with the models' own tables, so column types match what
the service writes; on PostgreSQL the id sequences are moved past the explicit ids and
the tables are analysed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from engagement.config import DEFAULT_REACTION_KINDS
from engagement.models import (
    ActivityBucket,
    Article,
    Comment,
    CommentStatus,
    CommentVote,
    Reaction,
    ReactionTotal,
)
from engagement.sanitize import render_markdown
from engagement.services.trending import BUCKET_RETENTION

THREAD_SMALL = "bench-thread-100"
THREAD_LARGE = "bench-thread-1000"
LIVE = "bench-live"
VOTE_TARGET = 1  # the first comment of THREAD_SMALL, always approved
LISTING_PREFIX = "bench-list-"
LISTING_COUNT = 10_000
FIRST_LISTING_ID = 101
MAX_SEED_DEPTH = 4
SERIAL_TABLES = ("articles", "comments", "comment_votes", "reactions")

# Typical reader comments: short and long, with the Markdown features readers use.
BODIES = (
    "Great piece, thanks.",
    "I read this twice. The part about the **budget figures** still puzzles me: where do the extra 3 % come from?",
    "> the ministry declined to comment\n\nThat says a lot on its own.",
    "Source for the claim in paragraph four? The [official report](https://example.org/report-2025) says otherwise.",
    "Three things the article leaves out:\n\n1. the 2019 precedent\n2. the court's timeline\n3. who pays for it\n\n"
    "Would be good to see a follow-up that covers them.",
    "This is *exactly* what people in my town have been saying for years, and nobody listened.",
    "Not convinced. The comparison with last year ignores inflation, and the chart uses a truncated axis, "
    "which makes a small change look dramatic. I would like to see the raw numbers.",
    "Typo in the second heading, by the way.",
    "Thank you for covering this. My cousin was among those detained in 2021; the families still have no "
    "news and the embassy answers nothing. Please keep writing about it, it is the only pressure that works.",
    "Could you publish the dataset? `csv` or anything machine-readable would help.",
    "Well argued, but ~~the second half~~ the conclusion does not follow from the evidence presented.",
    "Long-time reader here. I disagree with the editorial line on this one, and I say so with respect: the "
    "interviews are one-sided, the opposing view gets a single sentence, and the headline overstates what "
    "the documents show. Good journalism would have called the other side before publishing.",
)
NAMES = ("Ana", "Piotr", "Maryia", "Tomás", "Lena", "Jonas", "Chiara", "Oleg", None, None, None)


@dataclass(frozen=True)
class SeedSummary:
    """How much was written, for the report."""

    articles: int
    comments: int
    votes: int
    reactions: int
    reaction_totals: int
    activity_buckets: int


@dataclass
class _Rows:
    articles: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    votes: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    totals: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)


def listing_key(index: int) -> str:
    """The key of listing article ``index`` (0-based); its id is ``FIRST_LISTING_ID + index``."""
    return f"{LISTING_PREFIX}{index:05d}"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _article(article_id: int, key: str, now: datetime, **values: Any) -> dict[str, Any]:
    row = {
        "id": article_id, "key": key, "title": f"Article {key}", "url": f"https://news.example/{key}",
        "views": 0, "comment_count": 0, "version": 0, "comments_closed": False, "moderation": None,
        "created_at": now - timedelta(days=2), "updated_at": now,
    }
    row.update(values)
    return row


def _thread(
    rows: _Rows, rng: random.Random, rendered: list[tuple[str, str]], *,
    article_id: int, total: int, top_level: int, first_id: int, now: datetime,
) -> int:
    """Append one article's comments and votes; returns the number of visible comments."""
    start = now - timedelta(hours=36)
    step = timedelta(hours=35) / total
    comments: list[dict[str, Any]] = []
    top_count = 0
    shown_tops: list[dict[str, Any]] = []  # approved top-level comments
    replyable: list[dict[str, Any]] = []  # approved comments above the deepest seeded level
    for position in range(total):
        comment_id = first_id + position
        wants_top = not shown_tops or rng.random() < (top_level - top_count) / (total - position)
        parent = None
        if not wants_top:
            # Only approved comments get replies, so every reply under a shown comment is shown.
            parent = rng.choice(shown_tops) if rng.random() < 0.7 else rng.choice(replyable)
        source, html = rendered[rng.randrange(len(rendered))]
        # The first comment of every thread is public: the vote scenario votes on it.
        status = CommentStatus.PENDING if rng.random() < 0.02 and position else CommentStatus.APPROVED
        votes = rng.randint(1, 8) if rng.random() < 0.4 and status is CommentStatus.APPROVED else 0
        ups = sum(rng.random() < 0.75 for _ in range(votes))
        row = {
            "id": comment_id, "article_id": article_id,
            "parent_id": parent["id"] if parent else None,
            "root_id": (parent["root_id"] or parent["id"]) if parent else None,
            "depth": parent["depth"] + 1 if parent else 0,
            "status": status, "moderation_reason": "pre_moderation" if status is CommentStatus.PENDING else None,
            "body_source": source, "body_html": html,
            "author_name": rng.choice(NAMES), "author_email": None,
            "author_url": "https://blog.example/me" if rng.random() < 0.1 else None,
            "avatar_seed": _hex(rng, 16), "reader_hash": _hex(rng, 64), "address_hash": _hex(rng, 64),
            "edit_token_hash": _hex(rng, 64),
            "created_at": start + step * position, "edited_at": None, "purged_at": None,
            "pinned": False, "score": ups - (votes - ups), "upvotes": ups, "downvotes": votes - ups,
            "reply_count": 0, "open_flag_count": 0,
        }
        for index in range(votes):
            rows.votes.append({
                "comment_id": comment_id, "reader_hash": _hex(rng, 64), "value": 1 if index < ups else -1,
                "created_at": row["created_at"], "updated_at": row["created_at"],
            })
        comments.append(row)
        top_count += parent is None
        if status is CommentStatus.APPROVED:
            if parent is None:
                shown_tops.append(row)
            else:
                parent["reply_count"] += 1
            if row["depth"] < MAX_SEED_DEPTH:
                replyable.append(row)
    shown_tops[0]["pinned"] = True
    rows.comments.extend(comments)
    return sum(row["status"] is CommentStatus.APPROVED for row in comments)


def build_rows(now: datetime, *, seed: int = 20250913) -> _Rows:
    """Every seed row, deterministic for a given ``seed``."""
    rng = random.Random(seed)
    rendered = [(body, render_markdown(body)) for body in BODIES]
    rows = _Rows()
    kinds = list(DEFAULT_REACTION_KINDS)

    threads = ((1, THREAD_SMALL, 100, 40), (2, THREAD_LARGE, 1000, 400), (3, LIVE, 20, 12))
    next_comment = 1
    for article_id, key, total, top_level in threads:
        visible = _thread(
            rows, rng, rendered, article_id=article_id, total=total, top_level=top_level,
            first_id=next_comment, now=now,
        )
        next_comment += total
        rows.articles.append(_article(article_id, key, now, views=rng.randint(20_000, 90_000), comment_count=visible))
        # A few hundred readers' reactions (the database counts them into their totals).
        for _ in range(300):
            rows.reactions.append({
                "article_id": article_id, "reader_hash": _hex(rng, 64), "kind": rng.choice(kinds), "created_at": now,
            })

    # A month of kept activity, as a site has once it has run that long (trending.prune
    # deletes older buckets): a 24-hour window ranks a thirty-first of it.
    kept_hours = int(BUCKET_RETENTION / timedelta(hours=1))
    hours = [now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=h) for h in range(kept_hours)]
    for index in range(LISTING_COUNT):
        article_id = FIRST_LISTING_ID + index
        rows.articles.append(_article(
            article_id, listing_key(index), now,
            views=min(int(rng.paretovariate(1.1) * 50), 2_000_000), comment_count=rng.randint(0, 300),
        ))
        for kind in kinds:
            if rng.random() < 0.5:
                rows.totals.append({"article_id": article_id, "kind": kind, "count": rng.randint(1, 500)})
        if rng.random() < 0.3:
            for hour in rng.sample(hours, rng.randint(20, 90)):
                rows.buckets.append({
                    "article_id": article_id, "hour": hour, "views": rng.randint(1, 400),
                    "comments": rng.randint(0, 10), "reactions": rng.randint(0, 20),
                })
    return rows


def seed(engine: sa.Engine, *, now: datetime | None = None) -> SeedSummary:
    """Write the benchmark data into an empty, migrated database (one transaction)."""
    now = now or datetime.now(timezone.utc)
    rows = build_rows(now)
    with engine.begin() as connection:
        connection.execute(sa.insert(Article.__table__), rows.articles)
        # Parents first: rows are already in id order, so foreign keys hold row by row.
        connection.execute(sa.insert(Comment.__table__), rows.comments)
        connection.execute(sa.insert(CommentVote.__table__), rows.votes)
        connection.execute(sa.insert(Reaction.__table__), rows.reactions)
        connection.execute(sa.insert(ReactionTotal.__table__), rows.totals)
        connection.execute(sa.insert(ActivityBucket.__table__), rows.buckets)
        if engine.dialect.name == "postgresql":
            reset_sequences(connection)
            # Planner statistics, as autovacuum would gather them shortly after a bulk load.
            connection.exec_driver_sql("ANALYZE")
    return SeedSummary(
        articles=len(rows.articles), comments=len(rows.comments), votes=len(rows.votes),
        reactions=len(rows.reactions), reaction_totals=len(rows.totals), activity_buckets=len(rows.buckets),
    )


def reset_sequences(connection: sa.Connection) -> None:
    """Move PostgreSQL id sequences past explicitly inserted ids."""
    for table in SERIAL_TABLES:
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
