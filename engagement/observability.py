"""Logging: one JSON line per event, one line per request, never bodies or addresses."""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from flask import Flask, Response, g, request

_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

request_log = logging.getLogger("engagement.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ThrottledWarnings:
    """Logs a warning of each kind at most once per interval, so an outage does not flood the log."""

    def __init__(self, logger: logging.Logger, interval: float):
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warning(self, kind: str, message: str, *args: object) -> None:
        moment = time.monotonic()
        with self._lock:
            if moment - self._last.get(kind, -self._interval) < self._interval:
                return
            self._last[kind] = moment
        self._logger.warning(message, *args)


def configure_logging(level: str) -> None:
    logger = logging.getLogger("engagement")
    if not any(getattr(h, "_engagement", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._engagement = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level.upper())


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response
