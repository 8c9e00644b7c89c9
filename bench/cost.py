"""What one request costs in Python, in process: no server, no network, no load generator.

    .venv/bin/python -m bench.cost [--scenarios counts_20,post_view] [--requests 2000] [--rounds 3]

Seeds a fresh SQLite database as ``bench.run`` does (or uses ``--database-url`` for a
PostgreSQL database that will be emptied and seeded), builds the app with the benchmark's
settings and calls its WSGI entry point directly with each scenario's requests: the same
paths, bodies, headers and distinct reader tokens as the wrk scripts in bench/lua. Prints
the microseconds per request (best of ``--rounds``) and the Python function calls per
request (counted with cProfile in a separate pass).

``make bench`` measures throughput against a bare Flask app on a real server; this tool
answers a narrower question quickly and with far less noise: did a change make a path's
own work cheaper? Every request must answer 2xx (or 304 where revalidating); a scenario
that does not is reported as failed.
"""
from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from bench import seed
from bench.run import ROOT, VENV_BIN

BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REACTION_KINDS = ("like", "love", "insightful", "surprised", "sad", "angry")

Environ = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: Callable[["Requests"], Iterator[Environ]]
    settings: tuple[tuple[str, Any], ...] = ()  # app settings of its own (overrides)
    accept: tuple[int, ...] = (200, 201, 202)


class Requests:
    """WSGI environments like the ones the wrk scripts send."""

    def __init__(self, keyring: Any, now: Any):
        self._keyring = keyring
        self._now = now
        self._serial = itertools.count(1)
        self._run = secrets.token_hex(4)  # comment bodies never repeat across rounds

    def environ(self, method: str, path: str, *, body: str | None = None, reader: bool = False,
                headers: dict[str, str] | None = None) -> Environ:
        sent = {"User-Agent": BROWSER_AGENT, **(headers or {})}
        if reader:
            sent["X-Reader-Token"] = self._keyring.mint_reader_token(self._now)
        extra: dict[str, Any] = {"data": body, "content_type": "application/json"} if body is not None else {}
        return EnvironBuilder(path=path, method=method, headers=sent, **extra).get_environ()

    def serial(self) -> int:
        return next(self._serial)

    def comment_body(self) -> str:
        number = self.serial()
        return (
            f'{{"body": "Comment {self._run}-{number}. I read the **whole piece** twice and the part about the '
            f'[budget figures](https://example.org/budget/{number}) still puzzles me: where does the extra 3% '
            f'come from?\\n\\n> the ministry declined to comment\\n\\nThat says a lot.", '
            f'"author_name": "Reader {number % 500}"}}'
        )


def _repeat(build: Callable[[Requests], Environ]) -> Callable[[Requests], Iterator[Environ]]:
    def requests(made: Requests) -> Iterator[Environ]:
        while True:
            yield build(made)
    return requests


def _counts(size: int) -> Callable[[Requests], Iterator[Environ]]:
    def build(made: Requests) -> Environ:
        first = random.randint(0, seed.LISTING_COUNT - size)
        keys = "&".join(f"articles={seed.LISTING_PREFIX}{index:05d}" for index in range(first, first + size))
        return made.environ("GET", f"/api/v1/counts?{keys}")
    return _repeat(build)


THREAD = f"/api/v1/articles/{seed.THREAD_SMALL}/comments"
SCENARIOS = (
    Scenario("floor", _repeat(lambda made: made.environ("GET", "/healthz"))),
    Scenario("thread_100", _repeat(lambda made: made.environ("GET", THREAD))),
    Scenario("thread_miss", _repeat(lambda made: made.environ("GET", THREAD)), settings=(("RENDERED_CACHE_ENTRIES", 0),)),
    Scenario("thread_304", _repeat(lambda made: made.environ("GET", THREAD, headers={"If-None-Match": "{etag}"})),
             accept=(304,)),
    Scenario("thread_1000", _repeat(lambda made: made.environ("GET", f"/api/v1/articles/{seed.THREAD_LARGE}/comments"))),
    Scenario("counts_20", _counts(20)),
    Scenario("counts_100", _counts(100)),
    Scenario("trending", _repeat(lambda made: made.environ("GET", "/api/v1/trending"))),
    Scenario("post_view", _repeat(
        lambda made: made.environ("POST", f"/api/v1/articles/{seed.THREAD_SMALL}/views", reader=True))),
    Scenario("put_reaction", _repeat(lambda made: made.environ(
        "PUT", f"/api/v1/articles/{seed.THREAD_SMALL}/reactions/{REACTION_KINDS[made.serial() % 6]}", reader=True))),
    Scenario("post_vote", _repeat(lambda made: made.environ(
        "POST", f"/api/v1/comments/{seed.VOTE_TARGET}/vote", body='{"value": 1}', reader=True))),
    Scenario("post_comment", _repeat(lambda made: made.environ(
        "POST", f"/api/v1/articles/{seed.LIVE}/comments", body=made.comment_body(), reader=True))),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def _seeded_database(database_url: str | None, instance: Path) -> str:
    url = database_url or f"sqlite:///{instance / 'bench.db'}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(32),
           "ENGAGEMENT_INSTANCE_PATH": str(instance)}
    if database_url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        seed.seed(engine)
    finally:
        engine.dispose()
    return url


def _call(app: Any, environ: Environ) -> int:
    status: list[str] = []
    body = app.wsgi_app(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        for _ in body:
            pass
    finally:
        getattr(body, "close", lambda: None)()
    return int(status[0].split(" ", 1)[0])


def _with_etag(app: Any, environ: Environ) -> Environ:
    """Fill a revalidating request's If-None-Match with the resource's current ETag."""
    if environ.get("HTTP_IF_NONE_MATCH") != "{etag}":
        return environ
    headers: list[tuple[str, str]] = []
    probe = dict(environ, HTTP_IF_NONE_MATCH="")
    for _ in app.wsgi_app(probe, lambda line, sent, exc_info=None: headers.extend(sent)):
        pass
    return dict(environ, HTTP_IF_NONE_MATCH=dict(headers)["ETag"])


@dataclass(frozen=True)
class Cost:
    scenario: str
    microseconds: float
    calls: float
    failures: int


def measure(app: Any, scenario: Scenario, made: Requests, requests: int, rounds: int) -> Cost:
    source = scenario.requests(made)
    failures = 0
    for environ in itertools.islice(source, max(50, requests // 10)):  # warm up
        failures += _call(app, _with_etag(app, environ)) not in scenario.accept
    best = float("inf")
    for _ in range(rounds):
        batch = [_with_etag(app, environ) for environ in itertools.islice(source, requests)]
        started = time.perf_counter()
        for environ in batch:
            failures += _call(app, environ) not in scenario.accept
        best = min(best, (time.perf_counter() - started) / requests)
    profiled = [_with_etag(app, environ) for environ in itertools.islice(source, max(1, requests // 10))]
    profile = cProfile.Profile()
    profile.enable()
    for environ in profiled:
        _call(app, environ)
    profile.disable()
    calls = pstats.Stats(profile).total_calls / len(profiled)  # type: ignore[attr-defined]
    return Cost(scenario.name, best * 1e6, calls, failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(BY_NAME), help="comma-separated scenario names")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best counts (default 3)")
    parser.add_argument("--database-url", help="a PostgreSQL database to empty and seed (default: a new SQLite file)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios.split(",") if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(BY_NAME)}")

    from engagement import create_app
    from engagement.clock import utcnow
    from engagement.privacy import Keyring

    with tempfile.TemporaryDirectory(prefix="engagement-cost-") as temp:
        instance = Path(temp)
        url = _seeded_database(args.database_url, instance)
        secret = secrets.token_urlsafe(32)
        os.environ["ENGAGEMENT_INSTANCE_PATH"] = str(instance)
        made = Requests(Keyring(secret), utcnow())
        print(f"{'scenario':14s} {'µs/request':>11s} {'calls/request':>14s}")
        failed = False
        for name in args.scenarios.split(","):
            scenario = BY_NAME[name]
            app = create_app({
                "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "ENGAGEMENT_ENV": "production",
                "RATELIMIT_ENABLED": False, **dict(scenario.settings),
            })
            _quiet_request_log()
            cost = measure(app, scenario, made, args.requests, args.rounds)
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()
            flag = f"  FAILED: {cost.failures} answers not in {scenario.accept}" if cost.failures else ""
            failed = failed or bool(cost.failures)
            print(f"{cost.scenario:14s} {cost.microseconds:11.1f} {cost.calls:14.0f}{flag}", flush=True)
    return 1 if failed else 0


def _quiet_request_log() -> None:
    """The request log is written (its cost counts), to a sink rather than the terminal."""
    import logging

    for handler in logging.getLogger("engagement").handlers:
        if getattr(handler, "_engagement", False):
            handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
