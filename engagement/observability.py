"""Logging: one JSON line per event, one line per request, never bodies or addresses."""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

import orjson
from flask import Flask, Response, g, request

_STANDARD_ATTRIBUTES = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

request_log = logging.getLogger("engagement.request")


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Every request writes one, so it is kept cheap: orjson,
    and the timestamp (whole seconds) formatted once per second."""

    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def _timestamp(self, record: logging.LogRecord) -> str:
        second, text = self._second  # one tuple: threads never see a half-updated pair
        if int(record.created) != second:
            text = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._second = (int(record.created), text)
        return text


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
        if request_log.isEnabledFor(logging.INFO):
            # makeRecord and handle, not info(): the caller's file and line, which info()
            # finds by walking the stack, are always this function.
            request_log.handle(request_log.makeRecord(
                request_log.name, logging.INFO, __file__, 0, "request", (), None,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            ))
        return response
