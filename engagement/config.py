"""Configuration: defaults, then environment variables, then explicit overrides.

Nothing here is read at import time; ``load_config`` is called by the app factory.
"""
from __future__ import annotations

import importlib
import ipaddress
import math
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import sqlalchemy as sa
from limits import parse_many

from engagement.mailer import SmtpSettings

DEFAULT_REACTION_KINDS = ("like", "love", "insightful", "surprised", "sad", "angry")


@dataclass(frozen=True)
class TrendingWeights:
    """How much one view, one visible comment and one reaction add to a trending score."""

    views: float = 1.0
    comments: float = 5.0
    reactions: float = 3.0


class ConfigurationError(RuntimeError):
    """Raised when the configuration is unsafe or malformed; the app refuses to start."""


def _as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"not a boolean: {value!r}")


def comparable_origin(origin: str) -> str:
    """An origin as the site's configured origins are compared with a request's: trimmed,
    without a trailing ``/``, in lower case (``https://News.example/`` is ``https://news.example``).
    CORS and page naming both compare this way."""
    return origin.strip().rstrip("/").lower()


def _as_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# Environment variable -> (Flask config key, parser). Documented in docs/operations.md's configuration table.
ENVIRONMENT_VARIABLES: dict[str, tuple[str, Any]] = {
    "ENGAGEMENT_ENV": ("ENGAGEMENT_ENV", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "REDIS_URL": ("REDIS_URL", str),
    "ENGAGEMENT_CORS_ORIGINS": ("CORS_ORIGINS", _as_list),
    "ENGAGEMENT_EDIT_WINDOW_MINUTES": ("EDIT_WINDOW_MINUTES", int),
    "ENGAGEMENT_MAX_DEPTH": ("MAX_DEPTH", int),
    "ENGAGEMENT_FLAG_THRESHOLD": ("FLAG_THRESHOLD", int),
    "ENGAGEMENT_REACTION_KINDS": ("REACTION_KINDS", _as_list),
    "ENGAGEMENT_MODERATION": ("MODERATION", str),
    "ENGAGEMENT_ANONYMOUS_NAME": ("ANONYMOUS_NAME", str),
    "ENGAGEMENT_MAX_REQUEST_BYTES": ("MAX_CONTENT_LENGTH", int),
    "ENGAGEMENT_TRUSTED_PROXIES": ("TRUSTED_PROXIES", int),
    "ENGAGEMENT_DUPLICATE_WINDOW_MINUTES": ("DUPLICATE_WINDOW_MINUTES", int),
    "ENGAGEMENT_SQLITE_BUSY_TIMEOUT_MS": ("SQLITE_BUSY_TIMEOUT_MS", int),
    "ENGAGEMENT_SQLITE_CHECKPOINT_SECONDS": ("SQLITE_CHECKPOINT_SECONDS", float),
    "ENGAGEMENT_SQLITE_MEMORY_MB": ("SQLITE_MEMORY_MB", int),
    "ENGAGEMENT_DB_POOL_SIZE": ("DB_POOL_SIZE", int),
    "ENGAGEMENT_PG_ASYNC_COUNTER_COMMITS": ("PG_ASYNC_COUNTER_COMMITS", _as_bool),
    "ENGAGEMENT_RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", _as_bool),
    "ENGAGEMENT_LOG_LEVEL": ("LOG_LEVEL", str),
    "ENGAGEMENT_VIEW_WINDOW_MINUTES": ("VIEW_WINDOW_MINUTES", int),
    "ENGAGEMENT_TRENDING_VIEW_WEIGHT": ("TRENDING_VIEW_WEIGHT", float),
    "ENGAGEMENT_TRENDING_COMMENT_WEIGHT": ("TRENDING_COMMENT_WEIGHT", float),
    "ENGAGEMENT_TRENDING_REACTION_WEIGHT": ("TRENDING_REACTION_WEIGHT", float),
    "ENGAGEMENT_AUTO_CLOSE_DAYS": ("AUTO_CLOSE_DAYS", int),
    "ENGAGEMENT_VIEW_FLUSH_SECONDS": ("VIEW_FLUSH_SECONDS", float),
    "ENGAGEMENT_SPAM_MAX_LINKS": ("SPAM_MAX_LINKS", int),
    "ENGAGEMENT_RENDERED_CACHE_ENTRIES": ("RENDERED_CACHE_ENTRIES", int),
    "ENGAGEMENT_RENDERED_CACHE_BYTES": ("RENDERED_CACHE_BYTES", int),
    "ENGAGEMENT_SPAM_CHECKS": ("SPAM_CHECKS", _as_list),
    "ENGAGEMENT_ESTABLISHED_READER_MINUTES": ("ESTABLISHED_READER_MINUTES", int),
    "ENGAGEMENT_API_DOCS": ("API_DOCS", _as_bool),
    "ENGAGEMENT_MOD_CONSOLE": ("MOD_CONSOLE", _as_bool),
    "ENGAGEMENT_METRICS": ("METRICS_ENABLED", _as_bool),
    "ENGAGEMENT_METRICS_ALLOW": ("METRICS_ALLOW", _as_list),
    "ENGAGEMENT_METRICS_TOKEN": ("METRICS_TOKEN", str),
    "ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE": ("WEBHOOK_ALLOW_PRIVATE", _as_bool),
    "ENGAGEMENT_WEBHOOK_TIMEOUT_SECONDS": ("WEBHOOK_TIMEOUT_SECONDS", float),
    "ENGAGEMENT_DELIVERY_MAX_ATTEMPTS": ("DELIVERY_MAX_ATTEMPTS", int),
    "ENGAGEMENT_DELIVERY_BACKOFF_SECONDS": ("DELIVERY_BACKOFF_SECONDS", float),
    "ENGAGEMENT_DELIVERY_BACKOFF_MAX_SECONDS": ("DELIVERY_BACKOFF_MAX_SECONDS", float),
    "ENGAGEMENT_WORKER_POLL_SECONDS": ("WORKER_POLL_SECONDS", float),
    "ENGAGEMENT_WORKER_LEASE_SECONDS": ("WORKER_LEASE_SECONDS", float),
    "ENGAGEMENT_SSO_SECRET": ("SSO_SECRET", str),
    "ENGAGEMENT_SSO_PUBLIC_KEY_FILE": ("SSO_PUBLIC_KEY_FILE", str),
    "ENGAGEMENT_SSO_JWKS_URL": ("SSO_JWKS_URL", str),
    "ENGAGEMENT_SSO_ALGORITHMS": ("SSO_ALGORITHMS", _as_list),
    "ENGAGEMENT_SSO_AUDIENCE": ("SSO_AUDIENCE", str),
    "ENGAGEMENT_SSO_LEEWAY_SECONDS": ("SSO_LEEWAY_SECONDS", int),
    "ENGAGEMENT_SSO_SESSION_DAYS": ("SSO_SESSION_DAYS", int),
    "ENGAGEMENT_SSO_JWKS_REFRESH_SECONDS": ("SSO_JWKS_REFRESH_SECONDS", float),
    "ENGAGEMENT_SSO_REQUIRED": ("SSO_REQUIRED", _as_bool),
    "ENGAGEMENT_SMTP_URL": ("SMTP_URL", str),
    "ENGAGEMENT_MAIL_FROM": ("MAIL_FROM", str),
    "ENGAGEMENT_PUBLIC_URL": ("PUBLIC_URL", str),
    "ENGAGEMENT_MODERATOR_EMAILS": ("MODERATOR_EMAILS", _as_list),
    "ENGAGEMENT_MODERATOR_DIGEST_MINUTES": ("MODERATOR_DIGEST_MINUTES", int),
}

DEFAULTS: dict[str, Any] = {
    "ENGAGEMENT_ENV": "development",
    "SQLALCHEMY_DATABASE_URI": None,  # None: a SQLite file in the instance folder
    "SECRET_KEY": None,
    "REDIS_URL": None,
    "CORS_ORIGINS": ["*"],
    "EDIT_WINDOW_MINUTES": 15,
    "MAX_DEPTH": 5,
    "FLAG_THRESHOLD": 3,
    "REACTION_KINDS": list(DEFAULT_REACTION_KINDS),
    "MODERATION": "post",
    "ANONYMOUS_NAME": "Anonymous",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "TRUSTED_PROXIES": 0,
    "DUPLICATE_WINDOW_MINUTES": 10,
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    # How often each worker checkpoints SQLite's WAL in the background (0: the committing
    # request does, as SQLite does by default).
    "SQLITE_CHECKPOINT_SECONDS": 1.0,
    # What SQLite may keep in memory in one worker, all its connections together (0: no
    # bound, SQLite's own 2 MiB page cache for each connection).
    "SQLITE_MEMORY_MB": 8,
    "DB_POOL_SIZE": 5,
    # On PostgreSQL, a view's, a reaction's and a vote's commit returns before its WAL is
    # flushed (services.statements.counter_statement).
    "PG_ASYNC_COUNTER_COMMITS": True,
    "RATELIMIT_ENABLED": True,
    "LOG_LEVEL": "INFO",
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "VIEW_WINDOW_MINUTES": 30,
    "TRENDING_VIEW_WEIGHT": 1.0,
    "TRENDING_COMMENT_WEIGHT": 5.0,
    "TRENDING_REACTION_WEIGHT": 3.0,
    "AUTO_CLOSE_DAYS": 0,  # 0: threads never close by age
    # With REDIS_URL: how often each worker moves Redis view counts into SQL (0: only the CLI does).
    "VIEW_FLUSH_SECONDS": 5.0,
    "SPAM_MAX_LINKS": 3,
    "RENDERED_CACHE_ENTRIES": 512,  # per worker; 0 turns the rendered-response cache off
    "RENDERED_CACHE_BYTES": 16 * 2**20,  # per worker: total body bytes kept, least recently used go first
    "SPAM_CHECKS": [],  # "package.module:callable" policy checks, e.g. an Akismet client
    # A reader token this old weighs fully in flags and per-address budgets; younger ones little.
    "ESTABLISHED_READER_MINUTES": 60,
    "API_DOCS": None,  # None: the browsable API reference is on in development, off in production
    "MOD_CONSOLE": True,  # the moderators' console at /mod (it holds no data; the API checks every token)
    # GET /metrics, for these client addresses or a bearer of METRICS_TOKEN (see engagement.metrics).
    "METRICS_ENABLED": False,
    "METRICS_ALLOW": ["127.0.0.1/8", "::1"],
    "METRICS_TOKEN": None,
    # Webhook URLs resolving to loopback, private, link-local or reserved addresses are refused unless true.
    "WEBHOOK_ALLOW_PRIVATE": False,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,  # connect, read and write, each
    # A delivery is tried this many times, waiting about BACKOFF * 2^(n-1) seconds (jittered, capped)
    # between attempts, then left failed (the dead letter admins list and retry).
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_BACKOFF_SECONDS": 30.0,
    "DELIVERY_BACKOFF_MAX_SECONDS": 6 * 3600.0,
    "WORKER_POLL_SECONDS": 2.0,  # how often an idle worker looks for new events
    # A claimed delivery belongs to its worker this long; one whose worker died is claimed again after it.
    "WORKER_LEASE_SECONDS": 300.0,
    # Sign-on with the site's own accounts (see docs/sso.md): one kind of key, an audience.
    "SSO_SECRET": None,  # HS256
    "SSO_PUBLIC_KEY_FILE": None,  # a PEM public key (RS256, ES256, EdDSA)
    "SSO_JWKS_URL": None,  # the site's JSON Web Key Set, cached, refetched for an unknown key id
    "SSO_ALGORITHMS": None,  # None: HS256 with a secret, RS256 with a public key
    "SSO_AUDIENCE": None,
    "SSO_LEEWAY_SECONDS": 60,  # clock skew forgiven on exp, nbf and iat
    "SSO_SESSION_DAYS": 30,  # how long the reader token a sign-in gives stays valid
    "SSO_JWKS_REFRESH_SECONDS": 30.0,  # at least this long between refetches for unknown key ids
    "SSO_REQUIRED": False,  # posting, voting, reacting and flagging need a signed-in reader
    # Mail (reply e-mails, moderator digests): off unless SMTP_URL is set, which then needs
    # MAIL_FROM and PUBLIC_URL (the address links in mails point to).
    "SMTP_URL": None,
    "MAIL_FROM": None,
    "PUBLIC_URL": None,
    "MODERATOR_EMAILS": [],
    "MODERATOR_DIGEST_MINUTES": 15,  # at most one moderator digest this often
}

# Which algorithms each kind of key may verify: an HMAC secret never verifies a
# public-key algorithm, nor a public key an HMAC one (the classic algorithm confusion).
SSO_SECRET_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
SSO_PUBLIC_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})
# An HS256 secret shorter than the hash's output can be guessed offline from one token.
MIN_SSO_SECRET_LENGTH = 32

# A scrape token is compared as a whole, but a short one could be guessed.
MIN_METRICS_TOKEN_LENGTH = 16

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _load_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:attribute``; ConfigurationError when it is not there."""
    module_name, _, attribute = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"ENGAGEMENT_SPAM_CHECKS: cannot load {path!r}: {exc}") from exc
    if not callable(found):
        raise ConfigurationError(f"ENGAGEMENT_SPAM_CHECKS: {path!r} is not callable")
    return found


@dataclass(frozen=True)
class Settings:
    """The domain settings services need, as plain values (services never read Flask config)."""

    edit_window_minutes: int
    max_depth: int
    flag_threshold: int
    reaction_kinds: tuple[str, ...]
    moderation: str
    anonymous_name: str
    duplicate_window_minutes: int
    view_window_minutes: int = 30
    trending_weights: TrendingWeights = TrendingWeights()
    auto_close_days: int = 0
    spam_max_links: int = 3
    reply_emails: bool = False  # readers may ask for reply e-mails (mail is configured)
    # Extra publish-time checks loaded from ENGAGEMENT_SPAM_CHECKS (services.policy.Check).
    extra_checks: tuple[Callable[..., Any], ...] = ()
    # Posting, voting, reacting and flagging need a reader signed in with the site's account.
    sso_required: bool = False
    # PostgreSQL: counters commit without waiting for the disk (statements.counter_statement).
    asynchronous_counter_commits: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Settings":
        return cls(
            edit_window_minutes=config["EDIT_WINDOW_MINUTES"],
            max_depth=config["MAX_DEPTH"],
            flag_threshold=config["FLAG_THRESHOLD"],
            reaction_kinds=tuple(config["REACTION_KINDS"]),
            moderation=config["MODERATION"],
            anonymous_name=config["ANONYMOUS_NAME"],
            duplicate_window_minutes=config["DUPLICATE_WINDOW_MINUTES"],
            view_window_minutes=config["VIEW_WINDOW_MINUTES"],
            trending_weights=TrendingWeights(
                views=config["TRENDING_VIEW_WEIGHT"],
                comments=config["TRENDING_COMMENT_WEIGHT"],
                reactions=config["TRENDING_REACTION_WEIGHT"],
            ),
            auto_close_days=config["AUTO_CLOSE_DAYS"],
            spam_max_links=config["SPAM_MAX_LINKS"],
            reply_emails=bool(config.get("SMTP_URL")),
            extra_checks=tuple(_load_callable(path) for path in config["SPAM_CHECKS"]),
            sso_required=config["SSO_REQUIRED"],
            asynchronous_counter_commits=config["PG_ASYNC_COUNTER_COMMITS"],
        )


# action -> (per reader, per address); each overridable by ENGAGEMENT_RATELIMIT_<ACTION>[_PER_ADDRESS].
# The address budget is larger: several readers can share one address (an office, a carrier),
# and minting reader tokens is cheap on purpose: fresh tokens weigh little where it matters.
DEFAULT_RATE_LIMITS: dict[str, tuple[str, str]] = {
    "comments": ("5/minute;60/day", "20/minute;600/day"),
    "votes": ("60/minute", "240/minute"),
    "reactions": ("60/minute", "240/minute"),
    "flags": ("20/minute;200/day", "60/minute"),
    "views": ("120/minute", "600/minute"),
    "readers": ("300/minute", "300/minute"),
}

# What one client address (an IPv6 client's /64) may add to one target, whatever its user
# agents and tokens: action -> budget, in units. A reader with an established token spends 1
# unit, a fresh token or none FRESH_READER_COST units. Overridable by
# ENGAGEMENT_RATELIMIT_<ACTION>_PER_TARGET.
DEFAULT_TARGET_BUDGETS: dict[str, str] = {
    "views": "300/30minutes",  # per article: 30 first-time readers, 300 returning ones
    "reactions": "300/hour",  # per article
    "votes": "100/hour",  # per comment
}
FRESH_READER_COST = 10


def _networks(entries: list[Any]) -> tuple[Network, ...]:
    """Addresses and CIDR networks, IPv4 or IPv6 (a bare address is a network of one)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ConfigurationError(f"ENGAGEMENT_METRICS_ALLOW: not an address or network: {str(entry)!r}") from None
    return tuple(networks)


def _parse_limit(variable: str, value: str) -> str:
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigurationError(f"{variable}: not a rate limit: {value!r}") from exc
    return value


def _rate_limits(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Per-action (per reader, per address) limits, each overridable by environment."""
    limits = {}
    for action, (per_reader, per_address) in DEFAULT_RATE_LIMITS.items():
        variable = f"ENGAGEMENT_RATELIMIT_{action.upper()}"
        limits[action] = (
            _parse_limit(variable, environ.get(variable) or per_reader),
            _parse_limit(variable + "_PER_ADDRESS", environ.get(variable + "_PER_ADDRESS") or per_address),
        )
    return limits


def _target_budgets(environ: Mapping[str, str]) -> dict[str, str]:
    """Per-action budgets of one address on one target, each overridable by environment."""
    budgets = {}
    for action, default in DEFAULT_TARGET_BUDGETS.items():
        variable = f"ENGAGEMENT_RATELIMIT_{action.upper()}_PER_TARGET"
        budgets[action] = _parse_limit(variable, environ.get(variable) or default)
    return budgets


def load_config(
    instance_path: str,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the Flask config mapping.

    Raises ConfigurationError for malformed values and for unsafe production settings
    (a missing SECRET_KEY with ENGAGEMENT_ENV=production).
    """
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for variable, (key, parse) in ENVIRONMENT_VARIABLES.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            config[key] = parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{variable}: {exc}") from exc
    config["RATE_LIMITS"] = _rate_limits(environ)
    config["TARGET_BUDGETS"] = _target_budgets(environ)
    config.update(overrides or {})

    if config["ENGAGEMENT_ENV"] not in {"development", "production"}:
        raise ConfigurationError("ENGAGEMENT_ENV must be 'development' or 'production'")
    if config["MODERATION"] not in {"post", "pre"}:
        raise ConfigurationError("ENGAGEMENT_MODERATION must be 'post' or 'pre'")
    if config["MAX_DEPTH"] < 0 or config["FLAG_THRESHOLD"] < 1 or config["EDIT_WINDOW_MINUTES"] < 0:
        raise ConfigurationError("depth, flag threshold and edit window must not be negative")
    if config["AUTO_CLOSE_DAYS"] < 0:
        raise ConfigurationError("ENGAGEMENT_AUTO_CLOSE_DAYS must not be negative (0 turns it off)")
    if not (math.isfinite(config["VIEW_FLUSH_SECONDS"]) and config["VIEW_FLUSH_SECONDS"] >= 0):
        raise ConfigurationError("ENGAGEMENT_VIEW_FLUSH_SECONDS must be 0 (off) or a number of seconds")
    if not (math.isfinite(config["SQLITE_CHECKPOINT_SECONDS"]) and 0 <= config["SQLITE_CHECKPOINT_SECONDS"] <= 3600):
        raise ConfigurationError("ENGAGEMENT_SQLITE_CHECKPOINT_SECONDS must be 0 (off) or a number of seconds up to 3600")
    if not 0 <= config["SQLITE_MEMORY_MB"] <= 65536:
        raise ConfigurationError("ENGAGEMENT_SQLITE_MEMORY_MB must be 0 (no bound) or a number of megabytes up to 65536")
    if config["ESTABLISHED_READER_MINUTES"] < 0:
        raise ConfigurationError("ENGAGEMENT_ESTABLISHED_READER_MINUTES must not be negative")
    if config["VIEW_WINDOW_MINUTES"] < 1:
        raise ConfigurationError("ENGAGEMENT_VIEW_WINDOW_MINUTES must be at least 1")
    if not all(
        math.isfinite(config[key]) and config[key] >= 0
        for key in ("TRENDING_VIEW_WEIGHT", "TRENDING_COMMENT_WEIGHT", "TRENDING_REACTION_WEIGHT")
    ):
        raise ConfigurationError("trending weights must be finite and not negative")
    if config["RENDERED_CACHE_ENTRIES"] < 0 or config["RENDERED_CACHE_BYTES"] < 0:
        raise ConfigurationError("ENGAGEMENT_RENDERED_CACHE_ENTRIES and _BYTES must not be negative (0 turns it off)")
    if not config["REACTION_KINDS"]:
        raise ConfigurationError("ENGAGEMENT_REACTION_KINDS must name at least one kind")
    if config["DELIVERY_MAX_ATTEMPTS"] < 1:
        raise ConfigurationError("ENGAGEMENT_DELIVERY_MAX_ATTEMPTS must be at least 1")
    durations = ("WEBHOOK_TIMEOUT_SECONDS", "DELIVERY_BACKOFF_SECONDS", "DELIVERY_BACKOFF_MAX_SECONDS",
                 "WORKER_POLL_SECONDS", "WORKER_LEASE_SECONDS")
    if not all(math.isfinite(config[key]) and config[key] > 0 for key in durations):
        raise ConfigurationError("webhook timeout, delivery backoff and worker intervals must be positive seconds")
    if config["WORKER_LEASE_SECONDS"] <= config["WEBHOOK_TIMEOUT_SECONDS"] * 4:
        # connect + write + read + pool timeouts all fit in a lease: a slow delivery is never claimed twice.
        raise ConfigurationError("ENGAGEMENT_WORKER_LEASE_SECONDS must exceed four webhook timeouts")
    config["METRICS_ALLOW"] = _networks(config["METRICS_ALLOW"])
    if config["METRICS_TOKEN"] is not None and len(config["METRICS_TOKEN"]) < MIN_METRICS_TOKEN_LENGTH:
        raise ConfigurationError(f"ENGAGEMENT_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters")

    _check_sso(config)
    _check_mail(config)

    if config["API_DOCS"] is None:
        config["API_DOCS"] = config["ENGAGEMENT_ENV"] == "development"
    config["SQLALCHEMY_DATABASE_URI"] = _database_uri(config["SQLALCHEMY_DATABASE_URI"], instance_path)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(config)
    config["SECRET_KEY"] = _secret_key(config, instance_path)
    config["DEBUG"] = False if config["ENGAGEMENT_ENV"] == "production" else config.get("DEBUG", False)
    return config


def _check_sso(config: dict[str, Any]) -> None:
    """Sign-on takes exactly one kind of key, an audience, and algorithms that key can verify."""
    keys = [name for name in ("SSO_SECRET", "SSO_PUBLIC_KEY_FILE", "SSO_JWKS_URL") if config[name]]
    if not keys:
        if config["SSO_REQUIRED"]:
            raise ConfigurationError("ENGAGEMENT_SSO_REQUIRED needs sign-on configured (ENGAGEMENT_SSO_SECRET, "
                                     "_PUBLIC_KEY_FILE or _JWKS_URL)")
        return
    if len(keys) > 1:
        raise ConfigurationError("set one of ENGAGEMENT_SSO_SECRET, ENGAGEMENT_SSO_PUBLIC_KEY_FILE and "
                                 "ENGAGEMENT_SSO_JWKS_URL, not several")
    if not config["SSO_AUDIENCE"]:
        raise ConfigurationError("ENGAGEMENT_SSO_AUDIENCE must be set when sign-on is configured")
    with_secret = keys[0] == "SSO_SECRET"
    allowed = SSO_SECRET_ALGORITHMS if with_secret else SSO_PUBLIC_KEY_ALGORITHMS
    algorithms = config["SSO_ALGORITHMS"] or (["HS256"] if with_secret else ["RS256"])
    refused = [name for name in algorithms if name not in allowed]
    if refused:
        raise ConfigurationError(
            f"ENGAGEMENT_SSO_ALGORITHMS: {', '.join(refused)} cannot be verified with "
            f"{'a secret' if with_secret else 'a public key'}; use {', '.join(sorted(allowed))}"
        )
    config["SSO_ALGORITHMS"] = list(algorithms)
    if with_secret and len(config["SSO_SECRET"]) < MIN_SSO_SECRET_LENGTH:
        raise ConfigurationError(f"ENGAGEMENT_SSO_SECRET must be at least {MIN_SSO_SECRET_LENGTH} characters")
    if config["SSO_JWKS_URL"] and config["ENGAGEMENT_ENV"] == "production" and not config["SSO_JWKS_URL"].startswith("https://"):
        raise ConfigurationError("ENGAGEMENT_SSO_JWKS_URL must be an https:// URL in production")
    if config["SSO_LEEWAY_SECONDS"] < 0 or config["SSO_SESSION_DAYS"] < 1 or not (
        math.isfinite(config["SSO_JWKS_REFRESH_SECONDS"]) and config["SSO_JWKS_REFRESH_SECONDS"] >= 0
    ):
        raise ConfigurationError("ENGAGEMENT_SSO_LEEWAY_SECONDS and _JWKS_REFRESH_SECONDS must not be negative, "
                                 "ENGAGEMENT_SSO_SESSION_DAYS at least 1")


def _check_mail(config: Mapping[str, Any]) -> None:
    """Mail settings come as a set: a server needs a From address and the public URL links point to."""
    if config["MODERATOR_DIGEST_MINUTES"] < 1:
        raise ConfigurationError("ENGAGEMENT_MODERATOR_DIGEST_MINUTES must be at least 1")
    if not config["SMTP_URL"]:
        return
    try:
        SmtpSettings.from_url(config["SMTP_URL"])
    except ValueError as exc:
        raise ConfigurationError(f"ENGAGEMENT_SMTP_URL: {exc}") from None
    if "@" not in (config["MAIL_FROM"] or ""):
        raise ConfigurationError("ENGAGEMENT_SMTP_URL needs ENGAGEMENT_MAIL_FROM, the address mails are sent from")
    public_url = urlsplit(config["PUBLIC_URL"] or "")
    if public_url.scheme not in {"http", "https"} or not public_url.hostname:
        raise ConfigurationError("ENGAGEMENT_SMTP_URL needs ENGAGEMENT_PUBLIC_URL, the service's https:// address")


def _database_uri(uri: str | None, instance_path: str) -> str:
    if uri:
        # Heroku-style URLs name the old driver; psycopg 3 is the one installed.
        if uri.startswith("postgres://"):
            uri = "postgresql+psycopg://" + uri[len("postgres://"):]
        elif uri.startswith("postgresql://"):
            uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
        return uri
    return "sqlite:///" + str(Path(instance_path) / "engagement.db")


def _engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # The busy timeout itself is set by a PRAGMA on every connection (see extensions).
        options: dict[str, Any] = {"connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
        url = sa.make_url(config["SQLALCHEMY_DATABASE_URI"])
        if url.get_dialect().get_pool_class(url) is sa.pool.QueuePool:  # a file (a memory database has one connection)
            # Each serving thread keeps a connection (extensions._kept_connection):
            # however many threads there are, none may wait for another's.
            options["max_overflow"] = -1
        return options
    return {
        # Idle connections are pinged before use (extensions.ping_idle_connections), busy ones not.
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_POOL_SIZE"],
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": 5},
    }


def _secret_key(config: Mapping[str, Any], instance_path: str) -> str:
    key = config["SECRET_KEY"]
    if key:
        if config["ENGAGEMENT_ENV"] == "production" and len(key) < 32:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters in production")
        return key
    if config["ENGAGEMENT_ENV"] == "production":
        raise ConfigurationError(
            "SECRET_KEY is not set. In production engagement refuses to start without it: "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
            "and pass it in the environment."
        )
    # Development: keep a generated key in the instance folder so tokens survive restarts.
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write then hard-link: atomic, so concurrent workers all end up with the same key.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()
