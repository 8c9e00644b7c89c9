"""The retry policy: exponential, capped, jittered between half and all of each wait."""
from __future__ import annotations

from datetime import timedelta

import pytest

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
