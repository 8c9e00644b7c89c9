"""The one source of the current time, so tests can move it (time-machine), and the one way a moment is written."""
from __future__ import annotations

import functools
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_timestamp(value: datetime | None) -> str | None:
    """A moment as the API writes it everywhere: ISO 8601 in UTC, whole seconds, a Z suffix."""
    return None if value is None else _written(value)


def _format(value: datetime) -> str:
    if value.tzinfo is not timezone.utc:  # what the database gives is UTC already
        value = value.astimezone(timezone.utc)
    # Formatted by hand: more than twice as fast as strftime.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        value.year, value.month, value.day, value.hour, value.minute, value.second
    )


# Moments already written, by moment: a thread page writes the same comments' timestamps
# each time it is rendered, and looking one up costs a small part of formatting it (the
# same datetime objects come back from the database layer, ``UTCDateTime``, so their
# hashes are kept too).
WRITTEN_MOMENTS_KEPT = 4096
_written = functools.lru_cache(maxsize=WRITTEN_MOMENTS_KEPT)(_format)
