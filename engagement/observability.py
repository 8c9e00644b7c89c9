"""Logging: one JSON line per event, one line per request, never bodies or addresses."""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask

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


class RequestLog:
    """WSGI middleware: one log line per request (method, path, status, duration), written
    when the app has answered.

    Outside Flask's request cycle, so logging a request costs no hooks and no context
    lookups (a few µs a request less than the two Flask hooks it replaces), and the
    duration covers every hook. Never the query string, a body or an address.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not request_log.isEnabledFor(logging.INFO):
            return self.app(environ, start_response)
        started = time.perf_counter()
        statuses: list[str] = []

        def noting_status(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        body = self.app(environ, noting_status)
        path = (environ.get("PATH_INFO") or "").encode("latin1").decode(errors="replace")  # as Werkzeug reads it
        # makeRecord and handle, not info(): the caller's file and line, which info()
        # finds by walking the stack, are always this function.
        request_log.handle(request_log.makeRecord(
            request_log.name, logging.INFO, __file__, 0, "request", (), None,
            extra={
                "method": environ.get("REQUEST_METHOD", ""),
                "path": "/" + path.lstrip("/"),
                "status": int(statuses[-1][:3]) if statuses else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        ))
        return body


def install_request_logging(app: Flask) -> None:
    app.wsgi_app = RequestLog(app.wsgi_app)  # type: ignore[method-assign]
