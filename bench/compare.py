"""Two configurations of engagement (or two commits) served side by side, one scenario
driven at each in turns: which one serves it faster on this machine, now?

    .venv/bin/python -m bench.compare --scenario post_comment --b-env ENGAGEMENT_THREADS=1
    .venv/bin/python -m bench.compare --scenario counts_20 --b-rev HEAD~1 --slices 12
    .venv/bin/python -m bench.compare --scenario post_view --backend postgres-redis --a-env ENGAGEMENT_THREADS=2

Side A is this checkout with ``--a-env``; side B is this checkout with ``--b-env``, or the
commit ``--b-rev`` (exported with ``git archive``, served with this checkout's virtual
environment; its database is migrated by its own migrations) with ``--b-env``. Both sides
start from copies of one seeded database (on PostgreSQL, two databases made from one
template; with Redis, a Redis database each), both gunicorn servers run at once with
``bench.run``'s settings on the same core, and wrk alternates between them in slices of
``--seconds`` (the first side of each pair alternates too). On a machine whose speed
moves by a third within minutes, as shared machines' do, the two sides then share its
fast and its slow moments, which separately timed runs do not.

Prints each pair of slices, then each side's requests per second and the server's CPU
time per request (the master and workers' user and system time from /proc, which a
slower core raises for both), and B's rate as a share of A's: over all slices, and the
median and range of the pairs. A difference inside the range of the pairs is noise.
Every answer must be one the scenario expects (2xx, or 304 where revalidating).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import run
from bench.scenarios import (
    BACKENDS,
    ENGAGEMENT,
    Backend,
    Load,
    Scenario,
    WrkResult,
    combine,
)

SIDES = ("A", "B")


@dataclass
class Side:
    name: str
    env: dict[str, str]
    tree: Path
    server: run.Server | None = None
    token_offset: int = 0
    runs: list[WrkResult] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def pids(self) -> list[int]:
        assert self.server is not None
        return [self.server.process.pid, *run.worker_pids(self.server.process.pid)]


def server_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far (/proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise SystemExit(f"expected NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def export_revision(revision: str, into: Path) -> Path:
    """The files of ``revision`` in ``into`` (``git archive``), for serving that commit."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=run.ROOT, capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def migrate_in(context: run.Context, tree: Path, database_url: str) -> None:
    """Bring a copy of the seeded database to ``tree``'s own schema (a no-op when it is the same)."""
    completed = subprocess.run(
        [str(run.VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=tree, env=context.engagement_env(database_url, redis=False), capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{tree} could not migrate the seeded database:\n{completed.stderr[-2000:]}")


def databases(context: run.Context, backend: Backend) -> dict[str, str]:
    """One seeded database per side, copies of one seed."""
    if backend.database == "sqlite":
        seeded = context.temp / "A.db"
        run.seed_database(context, f"sqlite:///{seeded}")
        shutil.copy(seeded, context.temp / "B.db")
        return {side: f"sqlite:///{context.temp / f'{side}.db'}" for side in SIDES}
    run.connect_admin(context)
    template = f"{run.DB_PREFIX}_compare_seed"
    run.seed_database(context, run.create_database(context, template))
    return {side: run.create_database(context, f"{run.DB_PREFIX}_compare_{side.lower()}", template) for side in SIDES}


def redis_url_for(base_url: str, side: str) -> str:
    """Side B counts in the Redis database after side A's, so their hot counters never mix."""
    parts = urlsplit(base_url)
    database = int(parts.path.strip("/") or 0) + SIDES.index(side)
    return urlunsplit(parts._replace(path=f"/{database}"))


def measure(load: Load, scenario: Scenario, sides: list[Side], slices: int, seconds: int) -> list[float]:
    """Alternate ``slices`` pairs of wrk runs between the sides; B's rate over A's, per pair."""
    for side in sides:
        assert side.server is not None
        side.token_offset = run.run_wrk(load, side.server.url, scenario, load.warmup, 0).requests + load.connections
    pair_ratios = []
    for index in range(slices):
        rates = {}
        for side in sides if index % 2 == 0 else reversed(sides):
            assert side.server is not None
            before = server_cpu_seconds(side.pids())
            result = run.run_wrk(load, side.server.url, scenario, seconds, side.token_offset)
            side.cpu_seconds += server_cpu_seconds(side.pids()) - before
            side.token_offset += result.requests + load.connections
            side.runs.append(result)
            rates[side.name] = result.rps
        pair_ratios.append(rates["B"] / rates["A"] if rates["A"] else 0.0)
        run.log(f"slice {index + 1}/{slices}: A {rates['A']:,.0f} req/s, B {rates['B']:,.0f} req/s")
    return pair_ratios


def summary(sides: list[Side], combined: dict[str, WrkResult], pair_ratios: list[float]) -> str:
    """Each side's slices read as one run (``combined``), then B's rate over A's."""
    lines = []
    for side in sides:
        result = combined[side.name]
        cpu_ms = 1000 * side.cpu_seconds / result.requests if result.requests else float("nan")
        unexpected = f", {result.non_2xx} unexpected answers" if result.non_2xx else ""
        lines.append(
            f"{side.name}: {result.rps:8,.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
            f"server CPU {cpu_ms:.3f} ms/request{unexpected}"
        )
    lines.append(
        f"B / A: {combined['B'].rps / combined['A'].rps:.3f} over all slices; "
        f"pairs: median {statistics.median(pair_ratios):.3f}, range {min(pair_ratios):.3f}–{max(pair_ratios):.3f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", required=True, choices=[scenario.name for scenario in ENGAGEMENT])
    parser.add_argument("--backend", default="sqlite", choices=list(BACKENDS))
    parser.add_argument("--a-env", nargs="*", default=[], metavar="NAME=VALUE", help="side A's server environment")
    parser.add_argument("--b-env", nargs="*", default=[], metavar="NAME=VALUE", help="side B's server environment")
    parser.add_argument("--b-rev", help="serve this commit as side B (default: this checkout)")
    parser.add_argument("--slices", type=int, default=10, help="pairs of runs (default 10)")
    parser.add_argument("--seconds", type=int, default=2, help="seconds per run (default 2)")
    options, rest = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        print("needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    context, scenario, backend = run.one_scenario(options.backend, options.scenario, rest, "engagement-compare-")
    args, temp = context.args, context.temp
    try:
        b_tree = export_revision(options.b_rev, temp / "b-tree") if options.b_rev else run.ROOT
        sides = [Side("A", parse_env(options.a_env), run.ROOT), Side("B", parse_env(options.b_env), b_tree)]
        load = Load(
            duration=options.seconds, warmup=2, threads=args.threads, connections=args.connections,
            cpu=args.load_cpu, tokens_file=run.mint_tokens(context, args.tokens), token_count=args.tokens,
        )
        urls = databases(context, backend)
        with contextlib.ExitStack() as servers:
            for side in sides:
                if side.tree != run.ROOT:
                    migrate_in(context, side.tree, urls[side.name])
                env = {
                    **context.engagement_env(urls[side.name], backend.redis), **dict(scenario.server_env), **side.env
                }
                if backend.redis:
                    env["REDIS_URL"] = redis_url_for(args.redis_url, side.name)
                    run.flush_redis(env["REDIS_URL"])
                side.server = servers.enter_context(run.serve(
                    "wsgi:app", env, temp / f"server-{side.name}.log", "/readyz", args.server_cpu, cwd=side.tree
                ))
            pair_ratios = measure(load, scenario, sides, options.slices, options.seconds)
        print(f"{scenario.label} on {backend.label}; A: this checkout {' '.join(options.a_env)}; "
              f"B: {options.b_rev or 'this checkout'} {' '.join(options.b_env)}")
        combined = {side.name: combine(side.runs) for side in sides}
        print(summary(sides, combined, pair_ratios))
        failed = any(result.non_2xx for result in combined.values())
    finally:
        run.cleanup(context)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
