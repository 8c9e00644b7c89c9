"""Trending scores, activity buckets and pruning, tested on the services directly."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from engagement.config import TrendingWeights
from engagement.extensions import db
from engagement.models import ActivityBucket, Article, ViewMark
from engagement.services import trending
from engagement.services.articles import ensure_article
from engagement.services.views import PURGE_EVERY
from engagement.services.trending import TrendingWindow

NOW = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)
WEIGHTS = TrendingWeights(views=1, comments=5, reactions=3)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


def ranked(
    session, window: TrendingWindow = TrendingWindow.DAY, *, limit: int = 10, now: datetime = NOW
) -> list[tuple[str, float]]:
    session.flush()  # the ranking is one statement on the connection: it does not flush the session
    ranking = trending.rank(session, WEIGHTS, window=window, limit=limit, now=now)
    return [(article.key, article.score) for article in ranking]


def article_id(session, key: str) -> int:
    article = ensure_article(session, key, NOW)
    article.url = f"https://news.example/{key}"  # known to the site: only known articles trend
    return article.id


def buckets(session) -> dict[tuple[int, datetime], tuple[int, int, int]]:
    rows = session.execute(
        sa.select(
            ActivityBucket.article_id,
            ActivityBucket.hour,
            ActivityBucket.views,
            ActivityBucket.comments,
            ActivityBucket.reactions,
        )
    )
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def test_decay_halves_every_half_life():
    assert trending.decay(0, 6) == 1
    assert trending.decay(6, 6) == pytest.approx(0.5)
    assert trending.decay(18, 6) == pytest.approx(0.125)
    assert trending.decay(-3, 6) == 1  # a bucket from a clock running ahead never weighs more


def test_bucket_hour_truncates_to_the_utc_hour():
    moment = datetime(2025, 9, 13, 14, 59, 59, 999, tzinfo=timezone(timedelta(hours=2)))
    assert trending.bucket_hour(moment) == datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)


def test_activity_accumulates_in_one_bucket_per_hour(session):
    article = article_id(session, "a")
    trending.record_activity(session, article, NOW, views=1)
    trending.record_activity(session, article, NOW + timedelta(minutes=59), views=2, reactions=1)
    trending.record_activity(session, article, NOW + timedelta(minutes=60), comments=1)
    assert buckets(session) == {
        (article, NOW): (3, 0, 1),
        (article, NOW + timedelta(hours=1)): (0, 1, 0),
    }


def test_withdrawn_activity_never_goes_below_zero(session):
    article = article_id(session, "a")
    trending.record_activity(session, article, NOW, reactions=1)
    trending.withdraw_activity(session, article, NOW, reactions=1)
    trending.withdraw_activity(session, article, NOW, reactions=1)
    trending.count_comment(session, article, NOW, -1)
    assert buckets(session) == {(article, NOW): (0, 0, 0)}


def test_score_is_the_decayed_weighted_sum(session):
    article = article_id(session, "a")
    trending.record_activity(session, article, NOW - timedelta(hours=6), views=10, comments=1, reactions=2)
    trending.record_activity(session, article, NOW, views=4)
    assert ranked(session) == [("a", pytest.approx((10 * 1 + 1 * 5 + 2 * 3) * 0.5 + 4))]
    assert ranked(session, TrendingWindow.WEEK) == [("a", pytest.approx(21 * 0.5 ** (6 / 48) + 4))]
    assert ranked(session, TrendingWindow.MONTH) == [("a", pytest.approx(21 * 0.5 ** (6 / 168) + 4))]


def test_window_covers_exactly_its_hourly_buckets(session):
    inside, outside = article_id(session, "inside"), article_id(session, "outside")
    trending.record_activity(session, inside, NOW - timedelta(hours=23), views=1)
    trending.record_activity(session, outside, NOW - timedelta(hours=24), views=1)
    assert [key for key, _ in ranked(session, now=NOW + timedelta(minutes=59))] == ["inside"]


def test_fresh_activity_beats_more_but_older_activity(session):
    # Seven articles with heavy activity 23 hours ago outrank the fresh one by raw sum:
    # the ranking orders by the decayed score, never by the raw sum.
    for n in range(7):
        trending.record_activity(session, article_id(session, f"heavy-{n}"), NOW - timedelta(hours=23), views=100)
    trending.record_activity(session, article_id(session, "fresh"), NOW, views=50)
    assert ranked(session, limit=1) == [("fresh", 50.0)]
    assert [key for key, _ in ranked(session, limit=3)] == ["fresh", "heavy-0", "heavy-1"]


def test_a_bucket_from_a_clock_running_ahead_weighs_no_more_than_now(session):
    trending.record_activity(session, article_id(session, "ahead"), NOW + timedelta(hours=2), views=7)
    assert ranked(session) == [("ahead", pytest.approx(7.0))]


def test_equal_scores_tie_by_key_whatever_order_their_buckets_were_added(session):
    hours = [NOW - timedelta(hours=offset) for offset in (1, 5, 11, 17)]
    for key, order in (("b-tie", hours), ("a-tie", hours[::-1]), ("c-tie", hours[1:] + hours[:1])):
        article = article_id(session, key)
        for hour in order:
            trending.record_activity(session, article, hour, views=3, comments=1)
    assert [key for key, _ in ranked(session)] == ["a-tie", "b-tie", "c-tie"]


def test_the_ranking_is_the_definition_over_every_bucket(session):
    # Many articles, activity of every kind at every age of the window: the ranking the
    # database answers is the score's definition computed here, top ``limit`` exactly.
    expected: dict[str, float] = {}
    for n in range(60):
        key = f"article-{n:02d}"
        article = article_id(session, key)
        expected[key] = 0.0
        for offset in range(n % 7, 24, 5):
            views, comments, reactions = (n * 7 + offset) % 13, (n + offset) % 3, (n * offset) % 4
            trending.record_activity(
                session, article, NOW - timedelta(hours=offset), views=views, comments=comments, reactions=reactions
            )
            weighted = views * WEIGHTS.views + comments * WEIGHTS.comments + reactions * WEIGHTS.reactions
            expected[key] += weighted * trending.decay(offset + 0.5, 6)
    best = sorted((key for key, score in expected.items() if score > 0), key=lambda key: (-round(expected[key], 9), key))
    ranking = ranked(session, limit=10, now=NOW + timedelta(minutes=30))
    assert [key for key, _ in ranking] == best[:10]
    assert [score for _, score in ranking] == [pytest.approx(expected[key]) for key in best[:10]]


def test_ranks_on_a_sqlite_built_without_math_functions(app_factory, database_url, monkeypatch):
    if database_url.startswith("postgresql"):
        pytest.skip("SQLite's math functions")
    from engagement import extensions

    python_exp_calls: list[float] = []

    def python_exp(value: float) -> float:
        python_exp_calls.append(value)
        return math.exp(value)

    monkeypatch.setattr(extensions, "sqlite_has_math_functions", lambda: False)
    monkeypatch.setattr(extensions, "math", SimpleNamespace(exp=python_exp))
    app = app_factory()
    with app.app_context():
        trending.record_activity(db.session, article_id(db.session, "a"), NOW - timedelta(hours=6), views=8)
        assert ranked(db.session) == [("a", pytest.approx(4.0))]
        db.session.rollback()
    assert python_exp_calls  # Python's exp took the place of SQL's


def test_zero_scores_are_left_out(session):
    article = article_id(session, "quiet")
    trending.record_activity(session, article, NOW, reactions=1)
    trending.withdraw_activity(session, article, NOW, reactions=1)
    assert ranked(session) == []


# --- pruning -------------------------------------------------------------------------------

def add_marks(session, article: int, expires: list[datetime]) -> None:
    session.execute(
        sa.insert(ViewMark),
        [{"article_id": article, "visitor_hash": f"{n:064x}", "expires_at": at} for n, at in enumerate(expires)],
    )


def test_prune_batch_deletes_only_what_has_expired(session):
    article = article_id(session, "a")
    add_marks(session, article, [NOW - timedelta(minutes=1), NOW, NOW + timedelta(minutes=1)])
    cutoff = NOW - trending.BUCKET_RETENTION
    trending.record_activity(session, article, cutoff - timedelta(hours=1), views=1)
    trending.record_activity(session, article, cutoff, views=1)
    trending.record_activity(session, article, NOW - timedelta(days=30), views=1)

    result = trending.prune_batch(session, NOW, batch_size=100)
    assert result == trending.PruneResult(view_marks=2, buckets=1)
    assert session.scalars(sa.select(ViewMark.expires_at)).all() == [NOW + timedelta(minutes=1)]
    assert sorted(hour for _, hour in buckets(session)) == [cutoff, NOW - timedelta(days=30)]
    assert trending.prune_batch(session, NOW, batch_size=100) == trending.PruneResult(0, 0)


def test_prune_command_works_in_batches_and_is_idempotent(app):
    with app.app_context():
        article = article_id(db.session, "a")
        add_marks(db.session, article, [NOW - timedelta(minutes=n + 1) for n in range(25)] + [NOW + timedelta(hours=1)])
        for hours in range(40 * 24, 31 * 24, -24):
            trending.record_activity(db.session, article, NOW - timedelta(hours=hours), views=1)
        db.session.commit()

    runner = app.test_cli_runner()
    with time_machine.travel(NOW, tick=False):
        first = runner.invoke(args=["engagement", "prune", "--batch-size", "4"])
        second = runner.invoke(args=["engagement", "prune"])
    assert first.exit_code == 0, first.output
    assert "pruned 25 expired view mark(s) and 9 old activity bucket(s)" in first.output
    assert second.exit_code == 0 and "pruned 0 expired view mark(s) and 0 old activity bucket(s)" in second.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewMark)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityBucket)) == 0


def test_counted_views_purge_expired_marks_along_the_way(app, client):
    with app.app_context():
        article = article_id(db.session, "an-article")
        add_marks(db.session, article, [NOW - timedelta(days=2)] * (PURGE_EVERY * 4 + 4))
        # the next counted view is a multiple of PURGE_EVERY: it purges
        db.session.execute(sa.update(Article).where(Article.id == article).values(views=PURGE_EVERY - 1))
        db.session.commit()
    with time_machine.travel(NOW, tick=False):
        response = client.post("/api/v1/articles/an-article/views", headers={"User-Agent": "Mozilla/5.0 Firefox/128.0"})
    assert response.status_code == 202
    with app.app_context():
        remaining = db.session.scalar(sa.select(sa.func.count()).select_from(ViewMark))
    # The new mark, plus what exceeded one purge's allowance.
    assert remaining == 1 + 4
