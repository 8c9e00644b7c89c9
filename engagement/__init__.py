"""engagement: reader comments and engagement for news sites.

``create_app`` is the only place an application is built.
"""
from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Mapping

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from engagement import metrics
from engagement.api import register_api
from engagement.api.caching import install_caching
from engagement.api.common import WAL_CHECKPOINTER, WRITE_LOCK
from engagement.api.cors import install_cors
from engagement.api.guards import EngagementRequest, NoSessions, StrictJSONProvider, install_guards
from engagement.api.metrics import install_metrics
from engagement.cli import register_cli
from engagement.clock import utcnow
from engagement.config import Settings, load_config
from engagement.errors import register_error_handlers
from engagement.extensions import (
    IDLE_PING_SECONDS,
    EngagementApi,
    configure_sqlite,
    db,
    install_request_connections,
    ping_idle_connections,
    require_sqlite_features,
    wal_checkpointer,
)
from engagement.observability import configure_logging, install_request_logging
from engagement.periodic import PeriodicTask
from engagement.privacy import Keyring
from engagement.api.ratelimits import configure_rate_limits
from engagement.schemas.common import ErrorSchema
from engagement.services import hot_views
from engagement.services.sso import verifier_from_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API_VERSION = "1.0.0"
# A slow Redis must not hold requests: past this, views fall back to SQL.
REDIS_TIMEOUT_SECONDS = 0.5


def _instance_path() -> str:
    return os.environ.get("ENGAGEMENT_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def check_configuration() -> None:
    """Read the configuration as ``create_app`` would; raises ConfigurationError on a bad setting.

    For servers that should refuse to start before forking workers (gunicorn.conf.py).
    """
    load_config(_instance_path())


class EngagementFlask(Flask):
    """Flask, except that whether a view or hook is a coroutine is decided once per function
    (and that requests are ``EngagementRequest``, whose simple query strings parse faster).

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view on every request (ten
    times for a request that does nothing); the answer for a function never changes. The
    functions it asks about are the app's registered views, hooks and handlers, a fixed
    set; the bound keeps functions made per request (``after_this_request``) from
    accumulating.
    """

    ADAPTED_FUNCTIONS_KEPT = 1024
    request_class = EngagementRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._adapted: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            adapted = self._adapted.get(func)
        except TypeError:  # an unhashable callable object
            return super().ensure_sync(func)
        if adapted is None:
            adapted = super().ensure_sync(func)
            if len(self._adapted) < self.ADAPTED_FUNCTIONS_KEPT:
                self._adapted[func] = adapted
        return adapted


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build an engagement app: configuration from the environment, then ``overrides``."""
    instance_path = _instance_path()
    # No implicit /static route: engagement/static is served by api/web.py with its own cache rules.
    app = EngagementFlask(__name__, instance_path=instance_path, static_folder=None)
    app.url_map.merge_slashes = False  # `//` in a path is a 404, never a redirect built from Host
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(app.instance_path, overrides=overrides))
    app.config.update(
        API_TITLE="engagement",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.json = StrictJSONProvider(app)
    # No cookies, so no sessions: without this Flask would build a signing serializer for
    # every request to look for a session cookie.
    app.session_interface = NoSessions()
    configure_logging(app.config["LOG_LEVEL"])

    db.init_app(app)
    install_request_connections(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        require_sqlite_features()
        with app.app_context():
            configure_sqlite(
                db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], _wal_checkpointer(app),
                memory_mb=app.config["SQLITE_MEMORY_MB"],
            )
        app.extensions[WRITE_LOCK] = threading.Lock()  # see api.common.transactional
    else:
        with app.app_context():
            ping_idle_connections(db.engine, IDLE_PING_SECONDS)

    app.extensions["engagement.settings"] = Settings.from_config(app.config)
    app.extensions["engagement.keyring"] = Keyring(
        app.config["SECRET_KEY"], established_after=timedelta(minutes=app.config["ESTABLISHED_READER_MINUTES"])
    )
    app.extensions["engagement.sso"] = verifier_from_config(app.config)
    _install_view_counter(app)

    api = EngagementApi(spec_kwargs={"info": {"description": "engagement HTTP API, version 1"}})
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)
    app.extensions["engagement.api"] = api
    register_api(app, api)

    install_cors(app, app.config["CORS_ORIGINS"])  # public endpoints only (engagement.api.cors)
    install_guards(app)
    configure_rate_limits(app)  # after every blueprint is registered
    install_request_logging(app)
    register_error_handlers(app)
    install_caching(app)
    install_metrics(app)  # nothing unless ENGAGEMENT_METRICS: no route, no hooks
    register_cli(app)

    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # The one place the client address is derived: trust exactly N proxy hops.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    return app


def _wal_checkpointer(app: Flask) -> PeriodicTask | None:
    """The SQLite WAL checkpointer: started by a worker's first write request; never in tests
    (TESTING) nor with SQLITE_CHECKPOINT_SECONDS=0, where SQLite checkpoints in the commit."""
    interval = app.config["SQLITE_CHECKPOINT_SECONDS"]
    if interval <= 0 or app.testing:
        return None
    checkpointer = wal_checkpointer(db.engine, interval)
    app.extensions[WAL_CHECKPOINTER] = checkpointer
    return checkpointer


def _install_view_counter(app: Flask) -> None:
    """With REDIS_URL: the Redis client, the hot view counter and the in-process flusher.

    Nothing connects here (redis-py connects on first use, in the worker). A worker
    starts its flusher thread when it first counts a view, so never before gunicorn
    forks; never in tests (TESTING) nor with VIEW_FLUSH_SECONDS=0.
    """
    url = app.config["REDIS_URL"]
    if not url:
        return
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
    flusher: PeriodicTask | None = None
    interval = app.config["VIEW_FLUSH_SECONDS"]
    if interval > 0 and not app.testing:

        def flush_once() -> None:
            with app.app_context():
                try:
                    flushed = hot_views.flush_with_lock(
                        db.session, app.extensions["engagement.view_counter"], now=utcnow()
                    )
                    if flushed is not None:  # None: another process held the lock
                        metrics.view_flush_succeeded()
                finally:
                    db.session.remove()

        flusher = PeriodicTask("engagement-view-flusher", flush_once, interval, on_error=hot_views.warn_flush_failed)
        app.extensions["engagement.view_flusher"] = flusher
    counter = hot_views.ViewCounter(client, on_count=flusher.ensure_started if flusher else None)
    app.extensions["engagement.redis"] = client
    app.extensions["engagement.view_counter"] = counter
