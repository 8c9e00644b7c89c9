"""Hot view counters in Redis: dedup marks, pending batches, crash-safe flushes, exact reads.

Needs a Redis server: REDIS_URL names the database these tests empty before and after
each test (CI: redis://127.0.0.1:6379/0).
"""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy as sa

from engagement.config import Settings
from engagement.extensions import db
from engagement.models import ActivityBucket, Article, CounterFlush
from engagement.periodic import PeriodicTask
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import hot_views
from engagement.services.trending import bucket_hour
from tests.factories import send_view
from tests.sql import counting_statements
from tests.support.periodic import run_rounds

REDIS_URL = os.environ.get("REDIS_URL")

T0 = datetime(2025, 9, 13, 8, 10, tzinfo=timezone.utc)
FLUSHER_THREAD = "engagement-view-flusher"
BASE_KEY = "engagement:views:base:story"


@pytest.fixture
def app(app_factory, redis_client):
    return app_factory(REDIS_URL=REDIS_URL)


@pytest.fixture
def counter(app) -> hot_views.ViewCounter:
    return app.extensions["engagement.view_counter"]


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


def reader(name: str) -> ReaderIdentity:
    return ReaderIdentity(key=f"reader-{name}", address_hash="-", has_token=True)


def view(app, session, counter, who: str, key: str = "story", *, now: datetime = T0, automated: bool = False) -> int:
    """Count one view through the Redis path and commit, as the beacon's request does."""
    counted = hot_views.count_view(
        session, counter, app.extensions["engagement.keyring"], app.extensions["engagement.settings"],
        article_key=key, reader=reader(who), countable=not automated, now=now,
    )
    session.commit()
    assert counted is not None
    return counted[0]


def stored_views(session, key: str = "story") -> int:
    session.rollback()  # a fresh snapshot
    return session.scalar(sa.select(Article.views).where(Article.key == key)) or 0


def totals(session, counter, *keys: str) -> dict[str, int]:
    session.rollback()
    return hot_views.current_views(session, list(keys), counter.unflushed(keys))


def mark_key(app, who: str, day, key: str = "story") -> str:
    keyring: Keyring = app.extensions["engagement.keyring"]
    return f"engagement:view:{key}:{keyring.daily_visitor_hash(reader(who), day)}"


# --- counting -----------------------------------------------------------------------------

def test_a_counted_view_sets_an_expiring_mark_and_a_pending_increment(app, session, counter, redis_client):
    assert view(app, session, counter, "ann") == 1
    hour = int(bucket_hour(T0).timestamp())
    assert redis_client.hgetall("engagement:views:pending") == {"story": "1"}
    assert redis_client.hgetall("engagement:views:pending:buckets") == {f"{hour}|story": "1"}
    mark = mark_key(app, "ann", T0.date())
    assert 0 < redis_client.pttl(mark) <= 30 * 60 * 1000
    # The article row exists at once, its stored count waits for the flush.
    assert stored_views(session) == 0


def test_every_visitor_key_in_redis_expires(app, session, counter, redis_client):
    for who in ("ann", "bob", "cy"):
        view(app, session, counter, who)
        view(app, session, counter, who, "other")
    marks = list(redis_client.scan_iter("engagement:view:*"))
    assert len(marks) == 6
    assert all(redis_client.ttl(mark) > 0 for mark in marks)


def test_same_reader_is_counted_once_per_window_on_the_application_clock(app, session, counter):
    assert view(app, session, counter, "ann") == 1
    assert view(app, session, counter, "ann", now=T0 + timedelta(minutes=10)) == 1
    assert view(app, session, counter, "bob", now=T0 + timedelta(minutes=10)) == 2
    # The mark's key still lives in Redis, but the window has passed on the clock views use.
    assert view(app, session, counter, "ann", now=T0 + timedelta(minutes=30, seconds=1)) == 3
    assert view(app, session, counter, "ann", now=T0 + timedelta(minutes=45)) == 3


def test_a_mark_that_expired_in_redis_or_was_deleted_counts_again(app, session, counter, redis_client):
    window = timedelta(seconds=1)
    arguments = {"article_key": "story", "visitor_hashes": ("yesterday", "today"), "now": T0}
    assert counter.count(**arguments, window=window, batch_id="b1").counted is True
    assert counter.count(**arguments, window=window, batch_id="b1").counted is False
    time.sleep(1.2)  # the TTL removes the mark even though the clock did not move
    assert counter.count(**arguments, window=window, batch_id="b1").counted is True

    assert view(app, session, counter, "ann", "deleted") == 1
    assert view(app, session, counter, "ann", "deleted") == 1
    redis_client.delete(mark_key(app, "ann", T0.date(), "deleted"))
    assert view(app, session, counter, "ann", "deleted") == 2


def test_a_window_spanning_midnight_keeps_yesterdays_mark(app, session, counter, redis_client):
    before_midnight = datetime(2025, 9, 13, 23, 50, tzinfo=timezone.utc)
    yesterday, today = before_midnight.date(), before_midnight.date() + timedelta(days=1)
    assert view(app, session, counter, "ann", now=before_midnight) == 1
    assert redis_client.exists(mark_key(app, "ann", yesterday))

    # After midnight the visitor hash rotated, yet yesterday's live mark holds.
    assert view(app, session, counter, "ann", now=before_midnight + timedelta(minutes=15)) == 1
    assert not redis_client.exists(mark_key(app, "ann", today))

    # Once it has expired, today's hash counts and marks.
    assert view(app, session, counter, "ann", now=before_midnight + timedelta(minutes=31)) == 2
    assert redis_client.exists(mark_key(app, "ann", today))
    assert view(app, session, counter, "ann", now=before_midnight + timedelta(minutes=45)) == 2


def test_a_planted_mark_under_yesterdays_hash_blocks_counting(app, session, counter, redis_client):
    expiry_ms = int((T0 + timedelta(minutes=5)).timestamp() * 1000)
    redis_client.set(mark_key(app, "ann", T0.date() - timedelta(days=1)), expiry_ms, px=60_000)
    assert view(app, session, counter, "ann") == 0
    assert redis_client.hgetall("engagement:views:pending") == {}
    assert view(app, session, counter, "ann", now=T0 + timedelta(minutes=6)) == 1


def test_automated_requests_read_but_never_count_or_create(app, session, counter, redis_client):
    assert view(app, session, counter, "bot", "unseen", automated=True) == 0
    assert session.scalar(sa.select(Article.id).where(Article.key == "unseen")) is None
    view(app, session, counter, "ann")
    assert view(app, session, counter, "bot", automated=True) == 1
    assert redis_client.hget("engagement:views:pending", "story") == "1"


# --- flushing -----------------------------------------------------------------------------

def _seed(app, session, counter) -> None:
    """Views of two articles over two hours, on top of 10 stored views of "story"."""
    view(app, session, counter, "seed")
    session.execute(sa.update(Article).where(Article.key == "story").values(views=10))
    session.commit()
    # Views written to SQL behind the counter's back: forget the base it learned.
    counter.client.delete(BASE_KEY)
    for n in range(4):
        view(app, session, counter, f"early-{n}")
    for n in range(3):
        view(app, session, counter, f"late-{n}", now=T0 + timedelta(hours=1))
        view(app, session, counter, f"late-{n}", "other", now=T0 + timedelta(hours=1))


def test_a_flush_moves_pending_views_into_sql_exactly(app, session, counter, redis_client):
    _seed(app, session, counter)
    before = totals(session, counter, "story", "other")
    assert before == {"story": 18, "other": 3}

    result = hot_views.flush_views(session, counter, now=T0)
    assert result == hot_views.FlushResult(batches=1, views=11)
    assert stored_views(session, "story") == 10 + 8
    assert stored_views(session, "other") == 3
    assert totals(session, counter, "story", "other") == before
    # Nothing of the batch is left; the bases learned and the generation stay.
    assert sorted(redis_client.scan_iter("engagement:views:*")) == [
        "engagement:views:base:other", BASE_KEY, "engagement:views:generation",
    ]

    rows = session.execute(
        sa.select(Article.key, ActivityBucket.hour, ActivityBucket.views).join(Article).order_by(Article.key, "hour")
    ).all()
    first, second = bucket_hour(T0), bucket_hour(T0) + timedelta(hours=1)
    assert [tuple(row) for row in rows] == [("other", second, 3), ("story", first, 5), ("story", second, 3)]
    assert session.scalar(sa.select(sa.func.count()).select_from(CounterFlush)) == 1

    assert hot_views.flush_views(session, counter, now=T0) == hot_views.FlushResult(batches=0, views=0)
    assert stored_views(session, "story") == 18


def test_a_flush_interrupted_after_taking_the_batch_loses_nothing(app, session, counter, redis_client, monkeypatch):
    _seed(app, session, counter)

    def crash(*args, **kwargs):
        raise RuntimeError("power cut between rename and apply")

    with monkeypatch.context() as patch:
        patch.setattr(hot_views, "apply_batch", crash)
        with pytest.raises(RuntimeError):
            hot_views.flush_views(session, counter, now=T0)
    assert len(counter.in_flight()) == 1
    assert redis_client.exists("engagement:views:pending") == 0
    # Reads still count the stranded batch, and views keep being counted meanwhile.
    assert totals(session, counter, "story", "other") == {"story": 18, "other": 3}
    view(app, session, counter, "after-crash")
    assert totals(session, counter, "story", "other") == {"story": 19, "other": 3}

    result = hot_views.flush_views(session, counter, now=T0)
    assert result == hot_views.FlushResult(batches=2, views=12)
    assert (stored_views(session, "story"), stored_views(session, "other")) == (19, 3)
    assert totals(session, counter, "story", "other") == {"story": 19, "other": 3}
    assert counter.in_flight() == []


def flush_failing_after_its_commit(session, counter, monkeypatch) -> None:
    """A flush whose batch is applied and committed, then Redis goes away before its cleanup."""

    def crash(self, batch_id):
        raise redis.ConnectionError("Redis went away between commit and cleanup")

    with monkeypatch.context() as patch:
        patch.setattr(hot_views.ViewCounter, "release", crash)
        with pytest.raises(redis.ConnectionError):
            hot_views.flush_views(session, counter, now=T0)


def test_a_flush_interrupted_after_its_commit_counts_nothing_twice(app, session, counter, monkeypatch):
    _seed(app, session, counter)

    flush_failing_after_its_commit(session, counter, monkeypatch)
    # Applied in SQL and still in Redis: reads see it once.
    assert (stored_views(session, "story"), stored_views(session, "other")) == (18, 3)
    assert len(counter.in_flight()) == 1
    assert totals(session, counter, "story", "other") == {"story": 18, "other": 3}

    # The retry finds the batch recorded and only cleans up.
    assert hot_views.flush_views(session, counter, now=T0) == hot_views.FlushResult(batches=1, views=0)
    assert (stored_views(session, "story"), stored_views(session, "other")) == (18, 3)
    assert counter.in_flight() == []
    assert totals(session, counter, "story", "other") == {"story": 18, "other": 3}


def test_reads_between_the_steps_of_a_flush_are_exact(app, session, counter):
    _seed(app, session, counter)
    expected = {"story": 18, "other": 3}
    batch_id = counter.take_pending()
    assert totals(session, counter, "story", "other") == expected
    # A read that took its Redis snapshot before the batch was applied ...
    unflushed = counter.unflushed(["story", "other"])
    hot_views.apply_batch(session, batch_id, counter.batch(batch_id), T0)
    session.commit()
    # ... and reads SQL after the commit still counts every view once.
    assert hot_views.current_views(session, ["story", "other"], unflushed) == expected
    assert totals(session, counter, "story", "other") == expected
    counter.release(batch_id)
    assert hot_views.current_views(session, ["story", "other"], unflushed) == expected
    assert totals(session, counter, "story", "other") == expected


# --- beacons answered from the learned base -----------------------------------------------

def answered_without_sql(app, session, counter, who: str) -> int:
    """A beacon's answer, checking it ran no SQL (its article's base is known)."""
    with counting_statements(app) as statements:
        answer = view(app, session, counter, who)
    assert statements == []
    return answer


def test_a_warm_article_learns_its_base_and_its_next_beacons_need_no_sql(app, session, counter, redis_client):
    assert view(app, session, counter, "ann") == 1
    assert redis_client.exists(BASE_KEY) == 0  # its only unflushed view: not warm yet
    assert view(app, session, counter, "bob") == 2  # another before a flush: worth a base
    assert redis_client.get(BASE_KEY) == "0"  # two views, still pending: none stored yet
    assert 0 < redis_client.pttl(BASE_KEY) <= hot_views.BASE_TTL_SECONDS * 1000
    assert answered_without_sql(app, session, counter, "cid") == 3
    assert answered_without_sql(app, session, counter, "cid") == 3  # a repeat: not counted, same total


def test_an_article_viewed_now_and_then_keeps_the_exact_read(app, session, counter, redis_client):
    for who in ("ann", "bob", "cid"):
        view(app, session, counter, who, "quiet")
        hot_views.flush_views(session, counter, now=T0)  # each view flushed before the next
    assert redis_client.exists("engagement:views:base:quiet") == 0
    assert view(app, session, counter, "dan", "quiet") == 4


def test_beacons_answer_exact_totals_through_every_step_of_a_flush(app, session, counter, redis_client):
    _seed(app, session, counter)  # 18 views of "story": 10 stored, 8 pending
    assert view(app, session, counter, "learns") == 19
    batch_id = counter.take_pending()
    assert answered_without_sql(app, session, counter, "after-take") == 20
    hot_views.apply_batch(session, batch_id, counter.batch(batch_id), T0)
    session.commit()
    assert answered_without_sql(app, session, counter, "after-apply") == 21
    counter.release(batch_id)
    assert redis_client.get(BASE_KEY) == str(10 + 9)  # the applied batch moved into the base
    assert answered_without_sql(app, session, counter, "after-release") == 22
    counter.release(batch_id)  # a second release (another flusher's) adds nothing
    assert answered_without_sql(app, session, counter, "after-second-release") == 23
    hot_views.flush_views(session, counter, now=T0)
    assert stored_views(session) == 23
    assert answered_without_sql(app, session, counter, "after-flush") == 24


def test_a_flush_that_failed_after_its_commit_leaves_the_answers_exact(app, session, counter, monkeypatch):
    _seed(app, session, counter)
    assert view(app, session, counter, "learns") == 19

    flush_failing_after_its_commit(session, counter, monkeypatch)
    assert stored_views(session) == 19  # applied, and still in flight in Redis
    assert answered_without_sql(app, session, counter, "meanwhile") == 20
    hot_views.flush_views(session, counter, now=T0)  # cleans up the applied batch, flushes the rest
    assert stored_views(session) == 20
    assert answered_without_sql(app, session, counter, "after-cleanup") == 21


@pytest.mark.parametrize("between", ["take", "release"])
def test_a_base_is_not_learned_across_a_take_or_a_release(app, session, counter, redis_client, between):
    view(app, session, counter, "first")
    redis_client.delete(BASE_KEY)
    arguments = {"article_key": "story", "visitor_hashes": None, "now": T0, "window": timedelta(minutes=30)}
    counted = counter.count(**arguments, batch_id="unused")
    assert counted.total is None and counted.unflushed.batches  # one pending view, no base
    # A flush moves the batch between the script and the exact read that follows it: the
    # read no longer sees what the script saw, so what it would teach may be wrong.
    batch_id = counter.take_pending()
    if between == "release":
        counted = counter.count(**arguments, batch_id="unused")
        hot_views.apply_batch(session, batch_id, counter.batch(batch_id), T0)
        session.commit()
        counter.release(batch_id)
    assert counter.learn_base("story", 1, counted) is False
    assert redis_client.exists(BASE_KEY) == 0
    assert view(app, session, counter, "second") == 2
    assert view(app, session, counter, "third") == 3  # learned afresh, from an exact read
    assert redis_client.get(BASE_KEY) == ("1" if between == "release" else "0")  # the stored views


def test_views_counted_in_sql_show_in_answers_once_the_base_expires(app, session, counter, redis_client):
    view(app, session, counter, "ann")
    view(app, session, counter, "bob")  # learns the base
    session.execute(sa.update(Article).where(Article.key == "story").values(views=Article.views + 5))
    session.commit()  # as the SQL fallback counts while Redis is unreachable
    assert view(app, session, counter, "cid") == 3  # the base predates those five
    redis_client.pexpire(BASE_KEY, 1)
    time.sleep(0.01)
    assert view(app, session, counter, "dan") == 9


def test_a_read_taken_before_the_pending_batch_is_renamed_is_exact(app, session, counter):
    _seed(app, session, counter)
    unflushed = counter.unflushed(["story", "other"])
    hot_views.flush_views(session, counter, now=T0)
    assert hot_views.current_views(session, ["story", "other"], unflushed) == {"story": 18, "other": 3}


def test_two_flushers_racing_on_one_batch_apply_it_once(app, session, counter):
    _seed(app, session, counter)
    counter.take_pending()  # left in flight, as by a crashed flusher
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def flush() -> None:
        with app.app_context():
            barrier.wait()
            try:
                hot_views.flush_views(db.session, counter, now=T0)
            except Exception as exc:  # SQLite lets one writer through; the other may fail
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=flush) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) <= 1
    hot_views.flush_views(session, counter, now=T0)
    assert (stored_views(session, "story"), stored_views(session, "other")) == (18, 3)
    assert counter.in_flight() == []


def test_concurrent_flushers_under_the_lock_apply_each_increment_once(app, session, counter):
    view(app, session, counter, "first")
    done = threading.Event()
    results: list[hot_views.FlushResult | None] = []

    def flusher() -> None:
        with app.app_context():
            try:
                while not done.is_set():
                    try:
                        results.append(hot_views.flush_with_lock(db.session, counter, now=T0))
                    except Exception:  # noqa: BLE001 - SQLite may refuse a racing writer; retried
                        db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=flusher) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(60):
            view(app, session, counter, f"reader-{n}")
    finally:
        done.set()
        for thread in threads:
            thread.join()
    hot_views.flush_views(session, counter, now=T0)

    assert stored_views(session) == 61
    assert totals(session, counter, "story") == {"story": 61}
    assert sum(result.views for result in results if result is not None) <= 61
    assert None in results  # the lock turned flushers away while another flushed


def test_a_flush_creates_the_article_of_a_view_whose_request_failed(app, session, counter):
    hot_views.count_view(
        session, counter, app.extensions["engagement.keyring"], app.extensions["engagement.settings"],
        article_key="orphan", reader=reader("ann"), countable=True, now=T0,
    )
    session.rollback()  # the request's transaction failed after Redis counted the view
    assert session.scalar(sa.select(Article.id).where(Article.key == "orphan")) is None
    hot_views.flush_views(session, counter, now=T0)
    assert stored_views(session, "orphan") == 1


def test_prune_keeps_the_records_of_batches_still_in_flight(session):
    old, recent = T0 - timedelta(days=8), T0 - timedelta(days=1)
    session.add_all([
        CounterFlush(flush_id="old", applied_at=old),
        CounterFlush(flush_id="old-in-flight", applied_at=old),
        CounterFlush(flush_id="recent", applied_at=recent),
    ])
    session.commit()
    assert hot_views.prune_flush_records(session, T0, limit=10, keep=["old-in-flight"]) == 1
    assert set(session.scalars(sa.select(CounterFlush.flush_id))) == {"old-in-flight", "recent"}


def test_the_prune_command_deletes_old_flush_records(app, session, counter):
    view(app, session, counter, "ann")
    hot_views.flush_views(session, counter, now=datetime.now(timezone.utc) - timedelta(days=8))
    result = app.test_cli_runner().invoke(args=["engagement", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 old counter flush record(s)" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(CounterFlush)) == 0


# --- the in-process flusher ---------------------------------------------------------------

def _flusher_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == FLUSHER_THREAD}


def test_no_flusher_runs_in_tests_or_when_turned_off(app_factory, redis_client):
    before = _flusher_threads()
    in_tests = app_factory(REDIS_URL=REDIS_URL)
    turned_off = app_factory(REDIS_URL=REDIS_URL, TESTING=False, VIEW_FLUSH_SECONDS=0)
    for app in (in_tests, turned_off):
        assert "engagement.view_flusher" not in app.extensions
        send_view(app.test_client(), "story")
    assert _flusher_threads() == before


def test_the_in_process_flusher_starts_when_a_worker_first_counts_a_view(app_factory, redis_client):
    before = _flusher_threads()
    app = app_factory(REDIS_URL=REDIS_URL, TESTING=False, VIEW_FLUSH_SECONDS=0.05)
    flusher = app.extensions["engagement.view_flusher"]
    client = app.test_client()
    assert client.get("/api/v1/articles/story/comments").status_code == 200
    assert not flusher.running and _flusher_threads() == before  # not in create_app, not on reads
    try:
        for n in range(3):
            response = client.post(
                "/api/v1/articles/story/views",
                headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
                environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
            )
            assert response.status_code == 202
        assert flusher.running and len(_flusher_threads() - before) == 1
        with app.app_context():
            deadline = time.monotonic() + 10
            while stored_views(db.session) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert stored_views(db.session) == 3
            db.session.remove()
    finally:
        flusher.stop()
    assert not flusher.running and _flusher_threads() == before
    assert redis_client.hgetall("engagement:views:pending") == {}


def test_periodic_flusher_survives_a_failing_round():
    calls: list[int] = []

    def flush_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise redis.ConnectionError("down")

    flusher = PeriodicTask("test-flusher", flush_once, 0.01, on_error=hot_views.warn_flush_failed)
    run_rounds(flusher, calls, 3)
    assert len(calls) >= 3
    assert not flusher.running


def test_settings_reach_the_redis_window(app_factory, redis_client):
    app = app_factory(REDIS_URL=REDIS_URL, VIEW_WINDOW_MINUTES=5)
    settings: Settings = app.extensions["engagement.settings"]
    counter = app.extensions["engagement.view_counter"]
    with app.app_context():
        assert view(app, db.session, counter, "ann") == 1
        assert view(app, db.session, counter, "ann", now=T0 + timedelta(minutes=settings.view_window_minutes)) == 2
        db.session.remove()
    assert 0 < redis_client.pttl(mark_key(app, "ann", T0.date())) <= 5 * 60 * 1000
