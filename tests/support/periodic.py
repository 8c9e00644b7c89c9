"""Running a background task (``engagement.periodic.PeriodicTask``) for a few rounds in a test."""
from __future__ import annotations

import time

from engagement.periodic import PeriodicTask


def run_rounds(task: PeriodicTask, rounds: list[object], count: int, timeout: float = 5.0) -> None:
    """Start ``task`` (twice: the second call must change nothing), wait until its rounds
    have appended ``count`` entries to ``rounds`` or ``timeout`` passed, then stop it."""
    task.ensure_started()
    task.ensure_started()
    try:
        deadline = time.monotonic() + timeout
        while len(rounds) < count and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        task.stop()
