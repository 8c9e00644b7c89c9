"""Day-by-day figures for the moderators' dashboard: comments by status, flags, views (UTC days).

One grouped query per series. Views come from the hourly activity buckets the trending
code keeps, so days older than the buckets' retention show no views.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.models import ActivityBucket, Comment, CommentStatus, Flag

MAX_DAYS = 90


@dataclass
class DayFigures:
    day: date
    comments: dict[str, int] = field(default_factory=lambda: {status.value: 0 for status in CommentStatus})
    flags: int = 0
    views: int = 0


def _day(column: Any) -> sa.ColumnElement[Any]:
    # Stored as UTC without an offset on every backend, so the SQL date is the UTC day;
    # SQLite answers a string, PostgreSQL a date.
    return sa.func.date(column)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def daily_stats(session: Session, *, days: int, now: datetime) -> list[DayFigures]:
    """The last ``days`` UTC days, today included, oldest first, every day present (three queries)."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    figures = {first + timedelta(days=n): DayFigures(first + timedelta(days=n)) for n in range(days)}

    comment_day = _day(Comment.created_at)
    for day, status, count in session.execute(
        sa.select(comment_day, Comment.status, sa.func.count())
        .where(Comment.created_at >= since).group_by(comment_day, Comment.status)
    ):
        if (figure := figures.get(_as_date(day))) is not None:  # not a clock-skewed future day
            figure.comments[status.value] = count

    flag_day = _day(Flag.created_at)
    for day, count in session.execute(
        sa.select(flag_day, sa.func.count()).where(Flag.created_at >= since).group_by(flag_day)
    ):
        if (figure := figures.get(_as_date(day))) is not None:
            figure.flags = count

    bucket_day = _day(ActivityBucket.hour)
    for day, views in session.execute(
        sa.select(bucket_day, sa.func.sum(ActivityBucket.views)).where(ActivityBucket.hour >= since).group_by(bucket_day)
    ):
        if (figure := figures.get(_as_date(day))) is not None:
            figure.views = int(views or 0)
    return list(figures.values())
