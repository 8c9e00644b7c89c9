"""The one source of the current time, so tests can move it (time-machine), and the one way a moment is written."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso_timestamp(value: datetime | None) -> str | None:
    """A moment as the API writes it everywhere: ISO 8601 in UTC, whole seconds, a Z suffix."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
