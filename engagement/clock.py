"""The one source of the current time, so tests can move it (time-machine), and the one way a moment is written."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_timestamp(value: datetime | None) -> str | None:
    """A moment as the API writes it everywhere: ISO 8601 in UTC, whole seconds, a Z suffix."""
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:  # what the database gives is UTC already
        value = value.astimezone(timezone.utc)
    # Formatted by hand: more than twice as fast as strftime, and a thread page writes hundreds.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        value.year, value.month, value.day, value.hour, value.minute, value.second
    )
