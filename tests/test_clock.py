"""How the API writes a moment: ISO 8601 in UTC, whole seconds, a Z suffix."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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
