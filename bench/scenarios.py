"""What the benchmark runs and what it records: scenarios, backends, wrk results.

``parse_wrk`` reads wrk's ``--latency`` output plus the status line the Lua scripts in
bench/lua print (see common.lua).
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench import explain, seed

WORKERS = 2  # gunicorn workers, for engagement and the ceiling alike
DB_PREFIX = "engagement_bench"  # every PostgreSQL database the run creates starts with this
BARE_ROWS = 10_000
RSS_LIMIT_MB = 120.0
SCALE_RATIO_LIMIT = 1.3


# --- scenarios ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """One wrk run: a Lua script, its arguments and what it is compared with."""

    name: str
    label: str
    script: str
    path: str = "/"
    args: tuple[str, ...] = ()
    tokens: bool = False  # the script takes (tokens file, offset, thread count) first
    ceiling: str | None = None
    target: float | None = None
    # Settings of the server this scenario needs (one served apart from the others).
    server_env: tuple[tuple[str, str], ...] = ()
    # Statuses besides 2xx that are the expected answer (a revalidation's 304).
    accept: tuple[int, ...] = ()


CEILING = (
    Scenario("get_fixed", "GET fixed JSON", "get.lua", "/fixed"),
    Scenario("post_fixed", "POST fixed JSON (parses the body)", "post_json.lua", args=("/fixed",)),
    Scenario("get_row", "GET one row by primary key (SQLite)", "get_row.lua", args=(str(BARE_ROWS),)),
    Scenario("post_row", "POST one insert (SQLite)", "post_json.lua", args=("/rows",)),
)
CEILING_BY_NAME = {scenario.name: scenario for scenario in CEILING}

ENGAGEMENT = (
    Scenario("floor", "GET /healthz through the whole app (every hook, no work)", "get.lua", "/healthz",
             ceiling="get_fixed", target=0.75),
    Scenario("thread_100", "GET thread page (100 comments)", "get.lua",
             f"/api/v1/articles/{seed.THREAD_SMALL}/comments", ceiling="get_fixed", target=0.40),
    Scenario("thread_miss", "GET thread page (100 comments), rendered each time (no rendered-response cache)",
             "get.lua", f"/api/v1/articles/{seed.THREAD_SMALL}/comments", ceiling="get_fixed", target=0.15,
             server_env=(("ENGAGEMENT_RENDERED_CACHE_ENTRIES", "0"),)),
    Scenario("thread_304", "GET thread page (100 comments) revalidated: If-None-Match, 304", "revalidate.lua",
             f"/api/v1/articles/{seed.THREAD_SMALL}/comments", ceiling="get_fixed", accept=(304,)),
    Scenario("thread_1000", "GET first page, 1,000-comment thread", "get.lua",
             f"/api/v1/articles/{seed.THREAD_LARGE}/comments", ceiling="get_fixed"),
    Scenario("counts_20", "GET counts, 20 articles", "get_counts.lua",
             args=("20", seed.LISTING_PREFIX, str(seed.LISTING_COUNT)), ceiling="get_row", target=0.50),
    Scenario("counts_100", "GET counts, 100 articles", "get_counts.lua",
             args=("100", seed.LISTING_PREFIX, str(seed.LISTING_COUNT)), ceiling="get_row", target=0.25),
    Scenario("trending", "GET trending, 24h (the best 10 of 10,000 articles, a month of activity kept)", "get.lua",
             "/api/v1/trending", ceiling="get_fixed"),
    Scenario("post_view", "POST view (distinct readers)", "post_view.lua",
             args=(seed.THREAD_SMALL,), tokens=True, ceiling="post_row", target=0.50),
    Scenario("put_reaction", "PUT reaction (distinct readers)", "put_reaction.lua",
             args=(seed.THREAD_SMALL,), tokens=True, ceiling="post_row", target=0.40),
    Scenario("post_vote", "POST vote (distinct readers)", "post_vote.lua",
             args=(str(seed.VOTE_TARGET),), tokens=True, ceiling="post_row", target=0.40),
    Scenario("post_comment", "POST comment (Markdown, sanitised)", "post_comment.lua",
             args=(seed.LIVE,), tokens=True, ceiling="post_row", target=0.20),
)
# The OpenAPI path each scenario needs; a scenario whose endpoint is missing is skipped.
REQUIRED_PATHS: dict[str, str | None] = {
    "floor": None,  # /healthz, outside the API document
    "post_vote": "/api/v1/comments/{comment_id}/vote",
    "thread_100": "/api/v1/articles/{key}/comments",
    "thread_miss": "/api/v1/articles/{key}/comments",
    "thread_304": "/api/v1/articles/{key}/comments",
    "thread_1000": "/api/v1/articles/{key}/comments",
    "counts_20": "/api/v1/counts",
    "counts_100": "/api/v1/counts",
    "trending": "/api/v1/trending",
    "post_view": "/api/v1/articles/{key}/views",
    "put_reaction": "/api/v1/articles/{key}/reactions/{kind}",
    "post_comment": "/api/v1/articles/{key}/comments",
}


@dataclass(frozen=True)
class Backend:
    name: str
    label: str
    database: str  # "sqlite" or a PostgreSQL database name
    redis: bool = False


BACKENDS = {
    "sqlite": Backend("sqlite", "SQLite (WAL)", "sqlite"),
    "postgres": Backend("postgres", "PostgreSQL", f"{DB_PREFIX}_pg"),
    "postgres-redis": Backend("postgres-redis", "PostgreSQL + Redis", f"{DB_PREFIX}_redis", redis=True),
}


# --- wrk results -------------------------------------------------------------------------

@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    accept: tuple[int, ...] = ()
    latency_us: dict[int, int] = field(default_factory=dict)  # requests per latency (µs), from common.lua

    @property
    def non_2xx(self) -> int:
        """Answers that are neither 2xx nor one of the scenario's expected statuses."""
        return sum(count for status, count in self.statuses.items()
                   if not 200 <= status < 300 and status not in self.accept)

    @property
    def failed(self) -> bool:
        return self.non_2xx > 0 or sum(self.socket_errors.values()) > 0 or self.requests == 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str, accept: tuple[int, ...] = ()) -> WrkResult:
    """Read requests, req/s, the 50 % and 99 % latencies, statuses and socket errors from wrk's output.

    Raises ValueError when the output lacks the latency distribution or the totals.
    """
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    totals = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if totals is None or rate is None or set(percentiles) != {"50", "99"}:
        raise ValueError("unexpected wrk output:\n" + output)
    latency_line = re.search(r"^BENCH_LATENCY ([\d:,]*)\s*$", output, re.MULTILINE)
    latency_us: dict[int, int] = {}
    for pair in latency_line.group(1).split(",") if latency_line and latency_line.group(1) else ():
        value, _, count = pair.partition(":")
        latency_us[int(value)] = latency_us.get(int(value), 0) + int(count)
    status_line = re.search(r"^BENCH_STATUS (\{.*\})\s*$", output, re.MULTILINE)
    statuses = {int(k): v for k, v in json.loads(status_line.group(1)).items()} if status_line else {}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()))) if errors else {}
    return WrkResult(
        requests=int(totals.group(1)),
        seconds=_duration_ms(totals.group(2) + totals.group(3)) / 1000,
        rps=float(rate.group(1)),
        p50_ms=_duration_ms(percentiles["50"]),
        p99_ms=_duration_ms(percentiles["99"]),
        statuses=statuses,
        socket_errors={name: count for name, count in socket_errors.items() if count},
        accept=accept,
        latency_us=latency_us,
    )


def combine(results: list[WrkResult]) -> WrkResult:
    """Several wrk runs of one scenario as one: requests and seconds added up, statuses and
    socket errors too, and the percentiles read off the runs' latencies together (as wrk
    reads its own), so they are those of one run made of these slices."""
    latency: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    socket_errors: Counter[str] = Counter()
    for result in results:
        latency.update(result.latency_us)
        statuses.update(result.statuses)
        socket_errors.update(result.socket_errors)
    requests = sum(result.requests for result in results)
    seconds = sum(result.seconds for result in results)
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=_percentile_us(latency, 50) / 1000,
        p99_ms=_percentile_us(latency, 99) / 1000,
        statuses=dict(statuses),
        socket_errors=dict(socket_errors),
        accept=results[0].accept if results else (),
        latency_us=dict(latency),
    )


def _percentile_us(latency: dict[int, int], percent: float) -> int:
    """wrk's own percentile (stats_percentile): the least latency at or below which
    ``percent`` % of the requests, rounded half up, fall."""
    rank = math.floor(percent / 100 * sum(latency.values()) + 0.5)
    seen = 0
    for value in sorted(latency):
        seen += latency[value]
        if seen >= rank:
            return value
    return 0


@dataclass
class Load:
    """How wrk is run, and where the reader tokens are."""

    duration: int
    warmup: int
    threads: int
    connections: int
    cpu: str
    tokens_file: Path
    token_count: int

    @property
    def description(self) -> str:
        return f"wrk -t{self.threads} -c{self.connections} -d{self.duration}s --latency"


@dataclass
class Measurement:
    scenario: Scenario
    result: WrkResult | None
    note: str = ""
    # The scenario's ceiling, measured in turns with it (bench.run.measure_paired), so that
    # its ratio compares runs seconds apart on a machine whose speed changes within minutes.
    ceiling: WrkResult | None = None



@dataclass
class BackendRun:
    backend: Backend
    ceiling: list[Measurement] = field(default_factory=list)  # measured right before this backend
    measurements: list[Measurement] = field(default_factory=list)
    rss: dict[str, dict[int, float]] = field(default_factory=dict)  # scenario -> {worker pid: MB}
    error: str = ""


@dataclass
class Report:
    started: datetime
    load: Load
    machine: dict[str, str]
    seed_summary: seed.SeedSummary | None = None
    ceiling_rss: dict[int, float] = field(default_factory=dict)
    backends: list[BackendRun] = field(default_factory=list)
    scale: explain.ScaleReport | None = None
    scale_error: str = ""
    seconds: float = 0.0
