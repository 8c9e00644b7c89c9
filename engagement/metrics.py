"""Prometheus series: the metric objects, the small functions that record them, and the scrape.

The one module of the package that imports prometheus_client. Under gunicorn with
ENGAGEMENT_METRICS=true, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before any worker starts: prometheus_client, which chooses its storage when
first imported, then keeps each worker's values in files there and a scrape adds them
up, so whichever worker answers speaks for all. Without that directory (the Flask
development server, the test client) the values live in this process.

Every label value comes from a bounded set: routes are the app's URL rules (never the
raw path), methods and error codes are checked against fixed lists, the rest are enums.
What the routes and error handlers call (note_outcome, database_unavailable,
view_flush_succeeded) records nothing unless the current app has metrics on; the rest is
called only by the hooks engagement.api.metrics installs when it has.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import redis
from flask import Flask, current_app, g
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from engagement.config import ConfigurationError
from engagement.observability import ThrottledWarnings

if TYPE_CHECKING:
    from engagement.config import Network
    from engagement.services.hot_views import ViewCounter

EXTENSION = "engagement.metrics"
UNMATCHED = "unmatched"  # the route of a request no URL rule matched
OTHER = "other"  # any label value outside its known set
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Metric objects live in this registry; a scrape reads it, or every worker's files.
REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "engagement_http_requests", "Requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "engagement_http_request_duration_seconds", "Time to answer a request, by route (URL rule) and method.",
    ["route", "method"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COMMENTS_POSTED = Counter(
    "engagement_comments_posted", "Comments stored, by the status they were given.", ["status"], registry=REGISTRY,
)
COMMENTS_REFUSED = Counter(
    "engagement_comments_refused", "Comment posts refused, by error code.", ["reason"], registry=REGISTRY,
)
VIEW_BEACONS = Counter(
    "engagement_view_beacons", "View beacons by outcome: counted, or why not.", ["outcome"], registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "engagement_rate_limited", "Requests refused by a rate limit (429), by limit scope.", ["scope"],
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter(
    "engagement_database_errors", "Requests answered 503 because the database failed, by error class.",
    ["error"], registry=REGISTRY,
)

_warnings = ThrottledWarnings(logging.getLogger(__name__), 60.0)


@functools.cache
def _view_flush_timestamp() -> Gauge:
    # Made by the first app that counts views in Redis: without Redis there is no such series.
    return Gauge(
        "engagement_view_flush_last_success_timestamp_seconds",
        "When a worker last moved Redis view counts into SQL (Unix time; 0: not yet since start).",
        registry=REGISTRY, multiprocess_mode="max",  # the latest of every worker's
    )


def _on() -> bool:
    return EXTENSION in current_app.extensions


def bounded_method(method: str) -> str:
    return method if method in METHODS else OTHER


# --- recording ------------------------------------------------------------------------------

@functools.cache
def _request_series(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    # Kept per label set (a bounded number): labels() checks and locks on every call.
    return REQUESTS.labels(route, method, str(status)), REQUEST_SECONDS.labels(route, method)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count an answered request and its duration (``route`` a URL rule or UNMATCHED)."""
    count, duration = _request_series(route, bounded_method(method), status)
    count.inc()
    duration.observe(seconds)


def note_outcome(outcome: str) -> None:
    """What this request's action came to (a posted comment's status, a view's outcome).

    Counted by the request hook once the response shows it stood (a failed commit turns
    it into an error); nothing when metrics are off.
    """
    if _on():
        g.metrics_outcome = outcome


def noted_outcome() -> str | None:
    return g.get("metrics_outcome")


def comment_posted(status: str) -> None:
    COMMENTS_POSTED.labels(status).inc()


def comment_refused(code: str) -> None:
    COMMENTS_REFUSED.labels(code).inc()


def view_beacon(outcome: str) -> None:
    VIEW_BEACONS.labels(outcome).inc()


def rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope).inc()


def database_unavailable(error_class: str) -> None:
    """Count a request the database failed (``error_class``: a SQLAlchemy exception's name)."""
    if _on():
        DATABASE_ERRORS.labels(error_class).inc()


def view_flush_succeeded() -> None:
    """Record that this worker flushed the Redis view counts just now."""
    if _on():
        _view_flush_timestamp().set(time.time())


# --- scraping -------------------------------------------------------------------------------

class ScrapeAccess:
    """Who may scrape: a client address in the allowlist, or a bearer of the token."""

    def __init__(self, networks: Iterable[Network], token: str | None):
        self._networks = tuple(networks)
        # Digests of equal length: compare_digest then takes as long whatever is presented.
        self._token_digest = _digest(token) if token else None

    def allows(self, address: str | None, authorization: str | None) -> bool:
        return self._bears_token(authorization) or self._allowed_address(address)

    def _bears_token(self, authorization: str | None) -> bool:
        if self._token_digest is None or not authorization:
            return False
        scheme, _, presented = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(_digest(presented.strip()), self._token_digest)

    def _allowed_address(self, address: str | None) -> bool:
        try:
            client = ipaddress.ip_address(address or "")
        except ValueError:
            return False  # a Unix socket, or nothing usable
        if client.version == 6 and client.ipv4_mapped is not None:
            client = client.ipv4_mapped  # an IPv4 client of a dual-stack socket
        return any(client in network for network in self._networks)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class ViewBacklogCollector:
    """Reads the Redis view backlog at scrape time; no series when Redis cannot be reached."""

    def __init__(self, counter: ViewCounter):
        self._counter = counter

    def describe(self) -> list[Metric]:
        return []  # nothing to read when registered

    def collect(self) -> Iterator[Metric]:
        try:
            backlog = self._counter.backlog()
        except redis.RedisError as exc:
            _warnings.warning("backlog", "Redis unreachable, /metrics leaves out the view backlog: %s", exc)
            return
        yield GaugeMetricFamily(
            "engagement_views_unflushed", "Views counted in Redis and not yet in SQL.", value=backlog.views
        )
        yield GaugeMetricFamily(
            "engagement_view_batches_in_flight",
            "View batches taken by a flush and not yet cleaned up (more than one: flushes fail).",
            value=backlog.batches_in_flight,
        )


def multiprocess() -> bool:
    # prometheus_client chose where values live when it was first imported; read what it chose.
    return values.ValueClass is not values.MutexValue


class Exporter:
    """One app's /metrics: what it shows and to whom."""

    def __init__(self, access: ScrapeAccess, view_counter: ViewCounter | None):
        self.access = access
        # prometheus_client has no _created series in multiprocess mode: none in either mode.
        disable_created_metrics()
        self._registry = CollectorRegistry()
        if multiprocess():
            MultiProcessCollector(self._registry)
        else:
            self._registry.register(REGISTRY)
        # Backlogs that live outside the workers are read at scrape time, each by its collector.
        if view_counter is not None:
            _view_flush_timestamp()
            self._registry.register(ViewBacklogCollector(view_counter))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format ``accept`` asks for (Prometheus text by default) and its type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self._registry), content_type


def install(app: Flask, view_counter: ViewCounter | None) -> Exporter:
    """Turn recording on for ``app``; its exporter.

    Raises ConfigurationError when PROMETHEUS_MULTIPROC_DIR came too late for
    prometheus_client: each worker would then show only its own share.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and not multiprocess():
        raise ConfigurationError(
            "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported; set it before the server starts"
        )
    exporter = Exporter(ScrapeAccess(app.config["METRICS_ALLOW"], app.config["METRICS_TOKEN"]), view_counter)
    app.extensions[EXTENSION] = exporter
    return exporter


def exporter() -> Exporter:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
