"""How the API writes a moment: ISO 8601 in UTC, whole seconds, a Z suffix."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone

import pytest

from engagement import clock
from engagement.clock import iso_timestamp


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2025, 9, 13, 12, 0, 5, 999999, tzinfo=timezone.utc), "2025-09-13T12:00:05Z"),  # truncated, not rounded
        (datetime(2025, 9, 13, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-09-12T23:30:00Z"),  # another offset
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(0))), "2025-01-02T03:04:05Z"),  # UTC, not the singleton
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "0999-01-02T03:04:05Z"),  # four-digit years
        (None, None),
    ],
)
def test_moments_are_written_in_utc_to_the_second(moment, written):
    assert iso_timestamp(moment) == written


def test_moments_written_again_come_from_a_bounded_memo(monkeypatch):
    monkeypatch.setattr(clock, "_written", functools.lru_cache(maxsize=8)(clock._format))
    start = datetime(2025, 9, 13, 12, 0, tzinfo=timezone.utc)
    moments = [start + timedelta(seconds=second) for second in range(20)]
    first = [iso_timestamp(moment) for moment in moments]
    again = [iso_timestamp(moment) for moment in moments]
    assert first == again == [f"2025-09-13T12:00:{second:02d}Z" for second in range(20)]
    assert 0 < clock._written.cache_info().currsize <= 8
    hits = clock._written.cache_info().hits
    assert iso_timestamp(moments[-1]) == "2025-09-13T12:00:19Z"
    assert clock._written.cache_info().hits == hits + 1  # kept: not formatted again
    # The same instant in another offset is the same moment, written in UTC.
    assert iso_timestamp(start.astimezone(timezone(timedelta(hours=-5)))) == "2025-09-13T12:00:00Z"
