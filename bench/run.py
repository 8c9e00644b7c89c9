"""Benchmark driver: seed, serve under gunicorn, load with wrk, write bench/results/.

Run from the repository root (``make bench``)::

    .venv/bin/python -m bench.run [--duration 8] [--backends sqlite,postgres,postgres-redis]

Steps, all in one run, for each backend: the bare-Flask ceiling (bench/bare_app.py), then
a freshly migrated and seeded database, engagement under gunicorn (2 workers, pinned to
one CPU) and every scenario driven by wrk (pinned to the other CPU), with per-worker
peak RSS after each scenario; finally the PostgreSQL scale step (bench/explain.py). The Markdown
report goes to ``<results-dir>/<UTC date>-<short sha>.md`` and ``latest.md``.

Every server started is stopped (process groups), and every database created is
dropped, on success, failure or Ctrl-C.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from bench import bare_app, explain, seed
from bench.report import machine_description, write_report
from bench.scenarios import (
    BACKENDS,
    BARE_ROWS,
    CEILING,
    CEILING_BY_NAME,
    DB_PREFIX,
    ENGAGEMENT,
    REQUIRED_PATHS,
    WORKERS,
    Backend,
    BackendRun,
    Load,
    Measurement,
    Report,
    Scenario,
    WrkResult,
    combine,
    parse_wrk,
)

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
VENV_BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


def log(message: str) -> None:
    # A closed stdout (piped into head) must not stop the cleanup that logs as it goes.
    with contextlib.suppress(BrokenPipeError):
        print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- wrk ---------------------------------------------------------------------------------

def run_wrk(load: Load, base_url: str, scenario: Scenario, seconds: int, token_offset: int) -> WrkResult:
    """One wrk run of ``scenario`` (pinned to ``load.cpu``); token scripts start at ``token_offset``.

    Raises RuntimeError when wrk fails and ValueError when its output cannot be read.
    """
    args = list(scenario.args)
    if scenario.tokens:
        args = [str(load.tokens_file), str(token_offset), str(load.threads), *args]
    command = [
        "taskset", "-c", load.cpu, "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s",
        "--latency", "--timeout", "10s", "-s", str(LUA / scenario.script), base_url + scenario.path,
    ]
    if args:
        command += ["--", *args]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout, scenario.accept)


def measure(load: Load, base_url: str, scenario: Scenario) -> Measurement:
    """Warm up, then measure; token-using scripts never reuse a reader within one scenario."""
    offset = 0
    if load.warmup:
        warm = run_wrk(load, base_url, scenario, load.warmup, 0)
        offset = warm.requests + load.connections
    result = run_wrk(load, base_url, scenario, load.duration, offset)
    return Measurement(scenario, result, _token_note(load, scenario, offset + result.requests))


def _token_note(load: Load, scenario: Scenario, requests_sent: int) -> str:
    """A note for the report when a token script sent more requests than there are readers."""
    if scenario.tokens and requests_sent > load.token_count:
        return f"reader tokens reused after {load.token_count:,} requests"
    return ""


def measure_paired(
    load: Load, ceiling_url: str, ceiling: Scenario, base_url: str, scenario: Scenario, slices: int
) -> Measurement:
    """``scenario`` and its ``ceiling`` measured in turns: both warmed up, then ``slices``
    runs of each, alternating, of ``load.duration // slices`` seconds (at least one); each
    side's runs are then read as one (``combine``). On a machine whose speed changes
    within seconds, both sides then share its slow and its fast moments."""
    seconds = max(1, load.duration // slices)
    offsets = {"ceiling": 0, "scenario": 0}  # token scripts: past every request already sent
    runs: dict[str, list[WrkResult]] = {"ceiling": [], "scenario": []}
    sides = (("ceiling", ceiling_url, ceiling), ("scenario", base_url, scenario))
    if load.warmup:
        for side, url, measured in sides:
            offsets[side] = run_wrk(load, url, measured, load.warmup, 0).requests + load.connections
    for _ in range(slices):
        for side, url, measured in sides:
            result = run_wrk(load, url, measured, seconds, offsets[side])
            offsets[side] += result.requests + load.connections
            runs[side].append(result)
    note = _token_note(load, scenario, offsets["scenario"])
    return Measurement(scenario, combine(runs["scenario"]), note, ceiling=combine(runs["ceiling"]))


# --- processes -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_pids(master: int) -> list[int]:
    """Live children of the gunicorn master (its workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command (which may contain spaces): state, ppid, ...
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(entry.name))
    return sorted(children)


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set size) of a process in MB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> dict[int, float]:
        return {pid: mb for pid in worker_pids(self.process.pid) if (mb := peak_rss_mb(pid)) is not None}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def serve(
    app: str, env: dict[str, str], log_path: Path, ready_path: str, cpu: str, cwd: Path = ROOT
) -> Iterator[Server]:
    """gunicorn with engagement's config, WORKERS workers, pinned to ``cpu``; stopped on exit.
    ``cwd``: the tree whose code is served (``bench.compare`` serves another commit's)."""
    port = free_port()
    command = [
        "taskset", "-c", cpu, str(VENV_BIN / "gunicorn"), "--config", str(cwd / GUNICORN_CONF.name),
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        # No recycling during the run: peak RSS then covers every request a worker served.
        "--max-requests", "0", app,
    ]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        server = Server(process, port)
        _wait_ready(server, ready_path, log_path)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: Server, path: str, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.process.returncode}):\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:
                if response.status == 200 and len(server.rss()) >= WORKERS:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not ready within {timeout:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _openapi_paths(server: Server) -> set[str]:
    with urllib.request.urlopen(server.url + "/api/v1/openapi.json", timeout=10) as response:
        return set(json.load(response).get("paths", {}))


# --- databases -----------------------------------------------------------------------------

@dataclass
class Context:
    """Everything one run creates, so ``cleanup`` can remove it."""

    args: argparse.Namespace
    temp: Path
    secret_key: str
    admin: sa.Engine | None = None
    databases: list[str] = field(default_factory=list)

    def postgres_url(self, database: str) -> str:
        return f"{self.args.postgres}/{database}"

    def base_env(self) -> dict[str, str]:
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("ENGAGEMENT_", "GUNICORN_")) and key not in {"DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"}
        }
        env.update(
            SECRET_KEY=self.secret_key,
            ENGAGEMENT_ENV="production",
            ENGAGEMENT_RATELIMIT_ENABLED="false",
            ENGAGEMENT_INSTANCE_PATH=str(self.temp / "instance"),
            WEB_CONCURRENCY=str(WORKERS),
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def engagement_env(self, database_url: str, redis: bool) -> dict[str, str]:
        env = self.base_env()
        env["DATABASE_URL"] = database_url
        if redis:
            env["REDIS_URL"] = self.args.redis_url
        return env


def migrate(context: Context, database_url: str) -> None:
    completed = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env=context.engagement_env(database_url, redis=False), capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"migration failed:\n{completed.stdout}\n{completed.stderr}")


def connect_admin(context: Context) -> None:
    """Connect to the PostgreSQL server's maintenance database (CREATE and DROP DATABASE)."""
    context.admin = sa.create_engine(
        context.postgres_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(context: Context, name: str, template: str | None = None) -> str:
    assert context.admin is not None
    drop_database(context.admin, name)
    with context.admin.connect() as connection:
        clause = f' TEMPLATE "{template}"' if template else ""
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
    context.databases.append(name)
    return context.postgres_url(name)


def seed_database(context: Context, database_url: str) -> seed.SeedSummary:
    migrate(context, database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        return seed.seed(engine)
    finally:
        engine.dispose()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- the run -------------------------------------------------------------------------------

# A fixed piece of pure-Python work (no I/O, no allocation to speak of), timed on the
# server's core: the same code takes the same time on a quiet machine, so its time tells
# how fast the core was for the scenarios measured around it. On shared (virtual)
# machines it has been seen to move by a third within minutes.
_SPEED_PROBE = "import time\nt=time.perf_counter()\nx=0\nfor i in range(3_000_000): x+=i\nprint(time.perf_counter()-t)"


def speed_probe(cpu: str) -> float:
    """Milliseconds the probe took on ``cpu`` (the best of three runs)."""
    times = []
    for _ in range(3):
        completed = subprocess.run(
            ["taskset", "-c", cpu, sys.executable, "-c", _SPEED_PROBE], capture_output=True, text=True, check=True
        )
        times.append(float(completed.stdout) * 1000)
    return min(times)


def cpu_ticks() -> tuple[int, int]:
    """(all, steal) CPU ticks of the machine so far (/proc/stat): steal is time the
    hypervisor gave this machine's cores to someone else."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def mint_tokens(context: Context, count: int) -> Path:
    """Reader tokens signed with the run's SECRET_KEY (as POST /api/v1/readers mints them)."""
    from engagement.clock import utcnow
    from engagement.privacy import Keyring

    keyring = Keyring(context.secret_key)
    path = context.temp / "tokens.txt"
    path.write_text("\n".join(keyring.mint_reader_token(utcnow()) for _ in range(count)) + "\n")
    return path


@contextlib.contextmanager
def serve_ceiling(context: Context) -> Iterator[Server]:
    """The bare-Flask app on its own SQLite file, with engagement's gunicorn settings."""
    database = context.temp / "bare.db"
    bare_app.create_database(str(database), BARE_ROWS)
    env = context.base_env()
    env["BENCH_BARE_DB"] = str(database)
    with serve("bench.bare_app:app", env, context.temp / "bare.log", "/fixed", context.args.server_cpu) as server:
        yield server


def run_backend(context: Context, load: Load, report: Report, backend: Backend, template: str | None, bare: Server) -> BackendRun:
    """The ceiling scenarios, then every engagement scenario against a fresh copy of the seed.

    The ceilings are measured right before each backend (the report's ceiling table), and
    each scenario's own ceiling again in turns with that scenario (``measure_paired``;
    ``Measurement.ceiling``, which its ratio uses): on a machine whose speed changes by the
    minute, a ratio then compares runs seconds apart rather than minutes apart.
    ``--unpaired-ceiling`` skips the second, for quicker runs whose ratios use the
    backend's ceilings.
    """
    run = BackendRun(backend)
    for scenario in CEILING:
        measurement = measure(load, bare.url, scenario)
        run.ceiling.append(measurement)
        _log_measurement(f"{backend.name} ceiling", measurement)
    if backend.database == "sqlite":
        database_url = f"sqlite:///{context.temp / 'engagement.db'}"
        report.seed_summary = seed_database(context, database_url)
    else:
        database_url = create_database(context, backend.database, template)
    if backend.redis:
        flush_redis(context.args.redis_url)
    selected = _selected(context.args, ENGAGEMENT)
    # Scenarios that need other server settings get a server of their own, in order.
    groups: dict[tuple[tuple[str, str], ...], list[Scenario]] = {}
    for scenario in selected:
        groups.setdefault(scenario.server_env, []).append(scenario)
    for server_env, scenarios in groups.items():
        env = {**context.engagement_env(database_url, backend.redis), **dict(server_env)}
        log_path = context.temp / f"{backend.name}-{len(run.measurements)}.log"
        with serve("wsgi:app", env, log_path, "/readyz", context.args.server_cpu) as server:
            available = _openapi_paths(server)
            for scenario in scenarios:
                required = REQUIRED_PATHS[scenario.name]
                if required is not None and required not in available:
                    run.measurements.append(Measurement(scenario, None, "endpoint missing"))
                    continue
                errors_before = _server_errors(log_path)
                if scenario.ceiling and not context.args.unpaired_ceiling:
                    measurement = measure_paired(
                        load, bare.url, CEILING_BY_NAME[scenario.ceiling], server.url, scenario, context.args.slices
                    )
                else:
                    measurement = measure(load, server.url, scenario)
                run.measurements.append(measurement)
                run.rss[scenario.name] = server.rss()
                _log_measurement(backend.name, measurement, run.rss[scenario.name])
                for line in _server_errors(log_path)[len(errors_before):][:ERRORS_SHOWN]:
                    log(f"  server error: …{line[-1500:]}")  # the end: the exception itself
    run.measurements.sort(key=lambda measurement: ENGAGEMENT.index(measurement.scenario))
    if backend.redis:
        flush_redis(context.args.redis_url)
    return run


ERRORS_SHOWN = 3  # the server's own error lines shown after a scenario; the log goes with the run


def _server_errors(log_path: Path) -> list[str]:
    """The error lines (engagement's JSON log, with tracebacks) the server has written so far."""
    with contextlib.suppress(OSError):
        return [line for line in log_path.read_text(errors="replace").splitlines() if _is_error_entry(line)]
    return []


def _is_error_entry(line: str) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False  # gunicorn's own lines, tracebacks of other processes
    return isinstance(entry, dict) and entry.get("level") == "error"


def _selected(args: argparse.Namespace, scenarios: tuple[Scenario, ...]) -> list[Scenario]:
    if not args.scenarios:
        return list(scenarios)
    wanted = set(args.scenarios.split(","))
    return [scenario for scenario in scenarios if scenario.name in wanted]


def _log_measurement(where: str, measurement: Measurement, rss: dict[int, float] | None = None) -> None:
    result = measurement.result
    if result is None:
        log(f"{where}: {measurement.scenario.name}: skipped ({measurement.note})")
        return
    memory = " RSS " + "/".join(f"{mb:.0f}" for mb in rss.values()) + " MB" if rss else ""
    flag = f" NON-2XX {result.non_2xx} {result.statuses}" if result.failed else ""
    paired = f" (its ceiling in turns with it: {measurement.ceiling.rps:.0f} req/s)" if measurement.ceiling else ""
    log(f"{where}: {measurement.scenario.name}: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms{memory}{flag}{paired}")


def run_scale(context: Context, report: Report, template: str) -> None:
    from engagement import create_app

    def make_app(url: str) -> Any:
        return create_app({
            "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": context.secret_key, "ENGAGEMENT_ENV": "production",
            "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING",
            # Scale is about what the queries cost at each size: a cached page would show none.
            "RENDERED_CACHE_ENTRIES": 0,
        })

    assert context.admin is not None
    names = (f"{DB_PREFIX}_10k", f"{DB_PREFIX}_1m")
    for name in names:
        drop_database(context.admin, name)
    report.scale = explain.run_scale(
        context.admin, context.args.postgres, template, names, make_app,
        small_total=context.args.scale_small, large_total=context.args.scale_comments,
        rounds=context.args.scale_rounds, batch=10, databases=context.databases, log=log,
    )
    for timing in report.scale.timings:
        log(f"scale: {timing.label}: {timing.small_median_ms:.1f} ms at {report.scale.small_total:,}, "
            f"{timing.large_median_ms:.1f} ms at {report.scale.large_total:,} (x{timing.ratio:.2f})")
    if report.scale.seq_scans:
        log(f"scale: Seq Scan on comments in: {', '.join(report.scale.seq_scans)}")


def one_scenario(
    backend_name: str, scenario_name: str, options: list[str], prefix: str
) -> tuple[Context, Scenario, Backend]:
    """A run of one engagement scenario on one backend (``bench.profile``, ``bench.compare``):
    its context, with ``bench.run``'s ``options`` (e.g. ``--connections``) and a temporary
    directory of its own (``prefix``), and the scenario and backend."""
    args = parse_args(["--backends", backend_name, "--scenarios", scenario_name, "--no-scale", *options])
    temp = Path(tempfile.mkdtemp(prefix=prefix))
    context = Context(args, temp, secrets.token_urlsafe(48))
    (temp / "instance").mkdir()
    scenario = next(scenario for scenario in ENGAGEMENT if scenario.name == scenario_name)
    return context, scenario, BACKENDS[backend_name]


def cleanup(context: Context) -> None:
    log("cleaning up")
    if context.admin is not None:
        for name in reversed(context.databases):
            try:
                drop_database(context.admin, name)
            except Exception as exc:  # keep dropping the others
                log(f"could not drop {name}: {exc}")
        context.admin.dispose()
    shutil.rmtree(context.temp, ignore_errors=True)
    log("cleaned up")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every finally block (servers, databases) runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (make bench installs wrk: apt-get install -y wrk)", file=sys.stderr)
            return 2
    temp = Path(tempfile.mkdtemp(prefix="engagement-bench-"))
    context = Context(args, temp, secrets.token_urlsafe(48))
    (temp / "instance").mkdir()
    os.environ["ENGAGEMENT_INSTANCE_PATH"] = str(temp / "instance")
    started = time.monotonic()
    backends = [BACKENDS[name] for name in args.backends.split(",") if name]
    try:
        log(f"minting {args.tokens:,} reader tokens")
        load = Load(
            duration=args.duration, warmup=args.warmup, threads=args.threads, connections=args.connections,
            cpu=args.load_cpu, tokens_file=mint_tokens(context, args.tokens), token_count=args.tokens,
        )
        needs_postgres = any(b.database != "sqlite" for b in backends) or not args.no_scale
        if needs_postgres:
            connect_admin(context)
        report = Report(datetime.now(timezone.utc), load, machine_description(args, context.admin))
        ticks_at_start = cpu_ticks()
        probes = [f"{speed_probe(args.server_cpu):.0f} at the start"]
        template = None
        if needs_postgres:
            template = f"{DB_PREFIX}_seed"
            summary = seed_database(context, create_database(context, template))
            report.seed_summary = summary
            log(f"seeded PostgreSQL template {template}: {summary}")
        with serve_ceiling(context) as bare:
            for backend in backends:
                probe = speed_probe(args.server_cpu)
                probes.append(f"{probe:.0f} before {backend.label}")
                log(f"backend: {backend.label} ({load.description}); speed probe {probe:.0f} ms")
                try:
                    report.backends.append(run_backend(context, load, report, backend, template, bare))
                except (RuntimeError, ValueError, sa.exc.SQLAlchemyError, OSError) as exc:
                    log(f"backend {backend.name} failed: {exc}")
                    report.backends.append(BackendRun(backend, error=str(exc)))
            report.ceiling_rss = bare.rss()
        if not args.no_scale and template is not None:
            try:
                run_scale(context, report, template)
            except (RuntimeError, ValueError, AssertionError, sa.exc.SQLAlchemyError) as exc:
                log(f"scale step failed: {exc!r}")
                report.scale_error = repr(exc)
        report.machine["Load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"
        probes.append(f"{speed_probe(args.server_cpu):.0f} at the end")
        report.machine["Speed probe (a fixed pure-Python loop on the server's core, ms; lower is faster)"] = (
            ", ".join(probes)
        )
        ticks_at_end = cpu_ticks()
        elapsed = ticks_at_end[0] - ticks_at_start[0]
        stolen = ticks_at_end[1] - ticks_at_start[1]
        report.machine["CPU steal during the run (cores given by the hypervisor to others)"] = (
            f"{100 * stolen / elapsed:.1f} %" if elapsed else "not measured"
        )
        report.seconds = time.monotonic() - started
        written = write_report(report, Path(args.results_dir))
        log(f"wrote {', '.join(str(path) for path in written)} in {report.seconds:.0f} s")
    finally:
        cleanup(context)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured scenario (default 8)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded seconds before each scenario (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--backends", default="sqlite,postgres,postgres-redis",
                        help="comma-separated: sqlite, postgres, postgres-redis")
    parser.add_argument("--scenarios", default="", help="comma-separated engagement scenario names (default: all)")
    parser.add_argument("--no-scale", action="store_true", help="skip the PostgreSQL 1M-comment scale step")
    parser.add_argument(
        "--unpaired-ceiling", action="store_true",
        help="measure the ceiling once per backend only, not again in turns with each scenario (quicker)",
    )
    parser.add_argument("--slices", type=int, default=4,
                        help="runs of each side a scenario and its ceiling alternate in (default 4)")
    parser.add_argument("--scale-comments", type=int, default=1_000_000, help="comments in the large scale database")
    parser.add_argument("--scale-small", type=int, default=10_000, help="comments in the small scale database")
    parser.add_argument("--scale-rounds", type=int, default=15, help="alternating rounds of 10 requests per size")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database name")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="Redis database (flushed!)")
    parser.add_argument("--tokens", type=int, default=40_000, help="reader tokens to mint for write scenarios")
    parser.add_argument("--server-cpu", default="0", help="CPU list for gunicorn (taskset -c)")
    parser.add_argument("--load-cpu", default="1", help="CPU list for wrk (taskset -c)")
    parser.add_argument("--results-dir", default=str(ROOT / "bench" / "results"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
