"""Rate limits (Flask-Limiter): one place that says which action may happen how often.

Each limited action has two budgets: one per reader identity (verified token, else the
keyed hash of address + user agent) and one per client address (several readers behind
one address share it, so it is larger). Limits live in memory by default and in Redis when
REDIS_URL is set, so every worker and host shares one budget. If Redis fails, requests
are let through and a warning is logged: an outage of the limiter must not take the
comments down.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from flask import Flask, current_app
from flask_limiter import Limiter

from engagement.api.common import current_reader
from engagement.config import DEFAULT_RATE_LIMITS

View = TypeVar("View", bound=Callable[..., Any])


def address_key() -> str:
    # The reader identity already carries the keyed hash of the client address.
    return "a:" + current_reader().address_hash


def reader_key() -> str:
    # Limits are checked when the view runs, after the guards refused any bad token.
    return "r:" + current_reader().key


RATE_LIMIT_ATTRIBUTE = "_engagement_rate_limit"


def limit(action: str) -> Callable[[View], View]:
    """Mark a view as one ``action``; ``configure_rate_limits`` gives it that action's budgets."""
    if action not in DEFAULT_RATE_LIMITS:
        raise KeyError(action)

    def decorate(view: View) -> View:
        setattr(view, RATE_LIMIT_ATTRIBUTE, action)
        return view

    return decorate


def _budget(action: str, which: int) -> Callable[[], str]:
    return lambda: current_app.config["RATE_LIMITS"][action][which]


def configure_rate_limits(app: Flask) -> Limiter:
    """Give every marked view its budgets; storage in Redis when REDIS_URL is set.

    One limiter per app (not a module global), so apps built side by side in one
    process share limits only through a shared store, as separate hosts would.
    Call after every blueprint is registered.
    """
    redis_url = app.config.get("REDIS_URL")
    storage_options = {}
    if redis_url:
        # Short timeouts: a hung Redis must not hold requests (they fail open instead).
        storage_options = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
    limiter = Limiter(
        key_func=reader_key,
        app=app,
        storage_uri=redis_url or "memory://",
        storage_options=storage_options,
        headers_enabled=True,
        swallow_errors=True,  # fail open when the storage is unreachable
        strategy="moving-window",
        key_prefix="engagement",
    )
    for endpoint, view in list(app.view_functions.items()):
        action = getattr(view, RATE_LIMIT_ATTRIBUTE, None)
        if action is None:
            continue
        view = limiter.limit(_budget(action, 0), key_func=reader_key, scope=f"{action}:reader")(view)
        view = limiter.limit(_budget(action, 1), key_func=address_key, scope=f"{action}:address")(view)
        app.view_functions[endpoint] = view
    app.extensions["engagement.limiter"] = limiter
    return limiter
