"""Background work a serving process repeats: one daemon thread per task and process."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable


class PeriodicTask:
    """Calls ``run_once`` every ``interval`` seconds on a daemon thread named ``name``.

    Started lazily by ``ensure_started`` (from the code that first needs the task), so the
    thread is born in the worker that serves, never in a parent that forks workers
    afterwards nor in a process that only builds an app. A round that raises is handed
    to ``on_error`` and the loop goes on.
    """

    def __init__(
        self, name: str, run_once: Callable[[], object], interval: float, *, on_error: Callable[[Exception], None]
    ):
        self.name = name
        self._run_once = run_once
        self._interval = interval
        self._on_error = on_error
        self._guard = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def ensure_started(self) -> None:
        """Start the thread in this process unless it runs already (cheap after the first call)."""
        if self._pid == os.getpid():
            return
        with self._guard:
            if self._pid == os.getpid():
                return
            self._stopped = threading.Event()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        stopped = self._stopped
        while not stopped.wait(self._interval):
            try:
                self._run_once()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a failing round
                self._on_error(exc)
