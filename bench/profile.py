"""Profile engagement's gunicorn workers under one benchmark scenario with py-spy.

    .venv/bin/python -m bench.profile --scenario thread_100 [--backend sqlite] [--duration 10]

Seeds a fresh database as ``bench.run`` does, serves it with the same gunicorn settings
(and the scenario's own, e.g. no rendered cache for ``thread_miss``), drives the scenario
with wrk and samples both workers with ``py-spy record --gil`` meanwhile: only the
thread holding the GIL is sampled, so the shares are of the CPU time spent in Python,
not of threads waiting for work or for a lock. Prints the functions with the largest
share of samples, inclusive (the function or anything it calls) and self (the
function's own code), then the app's samples split by layer (``LAYERS``), so a missed
target points at the code that costs the time.
"""
from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bench import run
from bench.scenarios import BACKENDS, ENGAGEMENT, Load, WrkResult


def _record(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    command = [
        str(run.VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
        "--format", "raw", "--function", "--nonblocking", "--gil", "--output", str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py)`` shortened to ``module.py:func`` relative to site-packages or the repo."""
    function, _, location = frame.partition(" (")
    location = location.rstrip(")")
    for marker in ("site-packages/", str(run.ROOT) + "/", "lib/python3"):
        if marker in location:
            location = location.split(marker, 1)[1]
    return f"{location}:{function}"


# The layers a request's time is split into, tried in this order on each sampled stack
# (frames as ``module.py:function``): the first layer one of whose markers appears
# anywhere in the stack takes the sample. Logging and the sanitiser come first because
# they call JSON and regex code that would otherwise count as serialisation. SQL is
# split by ``_sql_layer``: building a statement (constructing it, deriving its cache key,
# compiling it) or executing it (binding, the driver, the database, reading rows).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("observability.py:install_request_logging", "logging/__init__.py:")),
    ("Markdown/bleach", ("engagement/sanitize.py:", "bleach/", "markdown_it/", "html5lib/")),
    ("identity", ("privacy.py:Keyring.identify", "engagement/bots.py:", "privacy.py:Keyring.daily_visitor_hash")),
    ("validation", ("webargs/core.py:Parser.parse", "guards.py:install_guards.<locals>._require_json_object")),
    ("serialisation", ("marshmallow/schema.py:Schema.dump", "flask/json/", "schemas/comments.py:public_comment_document",
                       "caching.py:_etag")),
    ("SQL building", ()),
    ("SQL execution", ()),
    ("Flask/routing and the rest", ("flask/app.py:Flask.wsgi_app",)),
)
_EXECUTE = ("sqlalchemy/engine/base.py:Connection.execute", "sqlalchemy/orm/session.py:Session._execute_internal")
_BUILDING_UNDER_EXECUTE = ("sqlalchemy/sql/compiler.py:", "sqlalchemy/sql/cache_key.py:", "sqlalchemy/sql/coercions.py:")


def _sql_layer(frames: list[str]) -> str | None:
    executing = next((index for index, frame in enumerate(frames) if frame.startswith(_EXECUTE)), None)
    if executing is None:
        if any(frame.startswith("sqlalchemy/sql/") for frame in frames):
            return "SQL building"
        # The session's begin, commit and close, the pool, the driver.
        if any(frame.startswith(("sqlalchemy/", "psycopg/", "redis/")) for frame in frames):
            return "SQL execution"
        return None
    below = frames[executing:]
    if any(frame.startswith(_BUILDING_UNDER_EXECUTE) for frame in below):
        return "SQL building"
    return "SQL execution"


def _layer_frame(frame: str) -> str:
    """``module.py:function`` without the line number, as LAYERS' markers are written."""
    location, _, function = _frame_name(frame).rpartition(":")
    return f"{location.rsplit(':', 1)[0]}:{function}"


def split_by_layer(paths: list[Path]) -> dict[str, float]:
    """Each layer's share of the samples inside the app (under ``Flask.wsgi_app``)."""
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            frames = [_layer_frame(frame) for frame in stack.split(";") if frame]
            if "flask/app.py:Flask.wsgi_app" not in frames:
                continue  # the server's own loop, or the test client
            for layer, markers in LAYERS:
                if layer.startswith("SQL"):
                    found = _sql_layer(frames)
                    if found is not None:
                        counts[found] += int(count_text)
                        break
                elif any(marker in frame for frame in frames for marker in markers):
                    counts[layer] += int(count_text)
                    break
    total = sum(counts.values())
    return {layer: counts[layer] / total for layer, _ in LAYERS} if total else {}


def format_split(split: dict[str, float]) -> str:
    return "\n".join(f"  {share:6.1%}  {layer}" for layer, share in split.items())


def summarize(paths: list[Path], top: int) -> str:
    """Inclusive and self shares of samples across the collapsed-stack files."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame_name(frame) for frame in stack.split(";") if frame and not frame.startswith("process ")]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                inclusive[name] += count
    if not total:
        return "no samples (is py-spy allowed to attach? it needs ptrace rights)"
    # gunicorn's own frames sit above every request: leave them out of the inclusive list.
    below_server = [(name, count) for name, count in inclusive.most_common() if not name.startswith(("gunicorn", "<"))]
    lines = [f"{total} samples", "", "inclusive share (function and what it calls):"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in below_server[:top]]
    lines += ["", "self share (the function's own code):"]
    lines += [f"  {count / total:6.1%}  {name}" for name, count in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", required=True, choices=[scenario.name for scenario in ENGAGEMENT])
    parser.add_argument("--backend", default="sqlite", choices=list(BACKENDS))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="copy the raw py-spy samples (one file per worker) here")
    options, rest = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None or not (run.VENV_BIN / "py-spy").exists():
        print("needs wrk (apt-get install -y wrk) and py-spy (.venv/bin/pip install py-spy)", file=sys.stderr)
        return 2
    context, scenario, backend = run.one_scenario(options.backend, options.scenario, rest, "engagement-profile-")
    args, temp = context.args, context.temp
    try:
        load = Load(
            duration=options.duration, warmup=1, threads=args.threads, connections=args.connections,
            cpu=args.load_cpu, tokens_file=run.mint_tokens(context, args.tokens), token_count=args.tokens,
        )
        if backend.database == "sqlite":
            database_url = f"sqlite:///{temp / 'engagement.db'}"
            run.seed_database(context, database_url)
        else:
            run.connect_admin(context)
            database_url = run.create_database(context, backend.database)
            run.seed_database(context, database_url)
        if backend.redis:
            run.flush_redis(args.redis_url)
        env = {**context.engagement_env(database_url, backend.redis), **dict(scenario.server_env)}
        with run.serve("wsgi:app", env, temp / "server.log", "/readyz", args.server_cpu) as server:
            run.run_wrk(load, server.url, scenario, 1, 0)  # warm-up
            outputs = [temp / f"worker-{pid}.txt" for pid in run.worker_pids(server.process.pid)]
            recorders = [
                _record(int(path.stem.split("-")[1]), options.duration, path) for path in outputs
            ]
            result: list[WrkResult] = []
            loader = threading.Thread(
                target=lambda: result.append(run.run_wrk(load, server.url, scenario, options.duration, 10_000))
            )
            loader.start()
            loader.join()
            for recorder in recorders:
                recorder.wait(timeout=options.duration + 30)
        for measured in result:
            print(f"{scenario.label} on {backend.label}: {measured.rps:.0f} req/s, p50 {measured.p50_ms:.1f} ms "
                  "(while being sampled)")
        if options.keep is not None:
            options.keep.mkdir(parents=True, exist_ok=True)
            for path in outputs:
                shutil.copy(path, options.keep / path.name)
        print(summarize(outputs, options.top))
        print("\nsplit of the app's samples by layer:")
        print(format_split(split_by_layer(outputs)))
    finally:
        run.cleanup(context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
