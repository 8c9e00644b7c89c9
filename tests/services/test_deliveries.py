"""The retry policy: exponential, capped, jittered between half and all of each wait."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engagement.services.deliveries import RetryPolicy

POLICY = RetryPolicy(max_attempts=8, backoff=timedelta(seconds=30), max_backoff=timedelta(minutes=10))


@pytest.mark.parametrize(
    "attempts, ceiling",
    [(1, timedelta(seconds=30)), (2, timedelta(seconds=60)), (3, timedelta(seconds=120)), (6, timedelta(minutes=10)),
     (1000, timedelta(minutes=10))],
)
def test_each_wait_doubles_up_to_the_cap_and_is_jittered_below_it(attempts, ceiling):
    assert POLICY.delay(attempts, rng=lambda: 0.0) == ceiling / 2
    assert POLICY.delay(attempts, rng=lambda: 0.999999) <= ceiling
    assert POLICY.delay(attempts, rng=lambda: 0.999999) > ceiling * 0.99


def test_jitter_spreads_receivers_that_failed_together():
    waits = {POLICY.delay(3) for _ in range(50)}
    assert len(waits) > 40
    assert all(timedelta(seconds=60) <= wait <= timedelta(seconds=120) for wait in waits)


def test_a_long_running_worker_outlives_a_database_error(app, monkeypatch):
    from engagement.clock import utcnow
    from engagement.extensions import db
    from engagement.services import deliveries

    passes = []

    def failing_then_stopping(session, channels, now):
        passes.append(now)
        if len(passes) == 1:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("the database went away"))
        worker.stop()
        return 0

    monkeypatch.setattr(deliveries, "fan_out", failing_then_stopping)
    with app.app_context():
        workers = [
            deliveries.DeliveryWorker(db.session, [], POLICY, clock=utcnow, lease=timedelta(minutes=5), poll_seconds=0.01)
            for _ in range(2)
        ]
        worker = workers[0]
        worker.run()
        assert len(passes) == 2
        passes.clear()
        worker = workers[1]
        with pytest.raises(sa.exc.OperationalError):  # --once reports the failure to cron
            worker.run(once=True)
