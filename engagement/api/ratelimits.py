"""Rate limits (Flask-Limiter): one place that says which action may happen how often.

Each limited action has two budgets: one per reader identity (verified token, else the
keyed hash of address + user agent) and one per client address (an IPv6 client's /64;
several readers behind one address share it, so it is larger). Counting actions (views,
reactions, votes) also have a budget per address and target (``target_allowance``): what
one address may add to one article or comment, whatever its user agents and tokens.
Limits live in memory by default (the default server runs one process, so that budget is
exact) and in Redis when REDIS_URL is set, so every worker and host shares one budget.
If Redis fails, requests are let through and a warning is logged: an outage of the
limiter must not take the comments down.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, TypeVar

from flask import Flask, current_app
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from redis.exceptions import RedisError

from engagement.api.common import current_reader
from engagement.config import DEFAULT_RATE_LIMITS, FRESH_READER_COST
from engagement.observability import ThrottledWarnings
from engagement.privacy import ReaderIdentity
from engagement.services.budgets import UNLIMITED, Allowance

# A storage outage would otherwise log once per counted request.
_warnings = ThrottledWarnings(logging.getLogger(__name__), 60.0)

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


class TargetAllowance:
    """One address's budget on one target, in the limiter's storage (see ``target_allowance``).

    Fails open: when the storage cannot be reached, the action is allowed.
    """

    def __init__(self, limiter: Limiter, items: list[RateLimitItem], identifiers: tuple[str, ...], cost: int):
        self._strategy = limiter.limiter
        self._items = items
        self._identifiers = identifiers
        self._cost = cost

    def available(self) -> bool:
        try:
            return all(self._strategy.test(item, *self._identifiers, cost=self._cost) for item in self._items)
        except (StorageError, RedisError, OSError) as exc:
            _warnings.warning("test", "rate limit storage unreachable, allowing: %s", exc.__class__.__name__)
            return True

    def spend(self) -> None:
        try:
            for item in self._items:
                self._strategy.hit(item, *self._identifiers, cost=self._cost)
        except (StorageError, RedisError, OSError) as exc:
            _warnings.warning("hit", "rate limit storage unreachable, not counted: %s", exc.__class__.__name__)

    def retry_after(self) -> int:
        try:
            resets = [self._strategy.get_window_stats(item, *self._identifiers).reset_time for item in self._items]
        except (StorageError, RedisError, OSError):
            return 60
        return max(1, int(max(resets) - time.time()) + 1)


def target_allowance(action: str, target: str, reader: ReaderIdentity) -> Allowance:
    """What the reader's address may still add to ``target`` for ``action`` (views, reactions, votes).

    A reader with an established token spends 1 unit, anyone else FRESH_READER_COST: an
    attacker's freshly minted tokens and rotated user agents buy little, while returning
    readers behind one shared address keep counting. UNLIMITED when rate limits are off.
    """
    app = current_app
    if not app.config["RATELIMIT_ENABLED"]:
        return UNLIMITED
    limiter: Limiter = app.extensions["engagement.limiter"]
    items = _parsed_budget(app, action)
    cost = 1 if reader.established else FRESH_READER_COST
    return TargetAllowance(limiter, items, (f"{action}-target", target, reader.address_hash), cost)


def _parsed_budget(app: Flask, action: str) -> list[RateLimitItem]:
    cache: dict[str, list[RateLimitItem]] = app.extensions.setdefault("engagement.target_budgets", {})
    if action not in cache:
        cache[action] = parse_many(app.config["TARGET_BUDGETS"][action])
    return cache[action]


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
        if action is None or not limiter.enabled:  # limits turned off: no wrapper to pass through
            continue
        view = limiter.limit(_budget(action, 0), key_func=reader_key, scope=f"{action}:reader")(view)
        view = limiter.limit(_budget(action, 1), key_func=address_key, scope=f"{action}:address")(view)
        app.view_functions[endpoint] = view
    # Every limit here is a decorator, which checks its budgets inside the view; with no
    # default or application-wide limits, the limiter's hook before every request (which
    # would resolve exemptions and limits for routes that have none) only costs time.
    # (Flask-Limiter registers no hooks at all when limits are turned off.)
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    app.extensions["engagement.limiter"] = limiter
    return limiter
