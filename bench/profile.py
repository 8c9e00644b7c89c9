"""Profile engagement's gunicorn workers under one benchmark scenario with py-spy.

    .venv/bin/pip install py-spy
    .venv/bin/python -m bench.profile --scenario thread_100 [--backend sqlite] [--duration 10]

Seeds a fresh database as ``bench.run`` does, serves it with the same gunicorn settings,
drives the scenario with wrk and samples both workers with ``py-spy record`` meanwhile.
Prints the functions with the largest share of samples, inclusive (the function or
anything it calls) and self (the function's own code), so a missed target points at
the code that costs the time.
"""
from __future__ import annotations

import argparse
import collections
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import run
from bench.scenarios import BACKENDS, ENGAGEMENT, Load, WrkResult


def _record(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    command = [
        str(run.VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
        "--format", "raw", "--function", "--nonblocking", "--output", str(output),
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
    options, rest = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None or not (run.VENV_BIN / "py-spy").exists():
        print("needs wrk (apt-get install -y wrk) and py-spy (.venv/bin/pip install py-spy)", file=sys.stderr)
        return 2
    args = run.parse_args(["--backends", options.backend, "--scenarios", options.scenario, "--no-scale", *rest])
    temp = Path(tempfile.mkdtemp(prefix="engagement-profile-"))
    context = run.Context(args, temp, secrets.token_urlsafe(48))
    (temp / "instance").mkdir()
    scenario = next(s for s in ENGAGEMENT if s.name == options.scenario)
    backend = BACKENDS[options.backend]
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
        env = context.engagement_env(database_url, backend.redis)
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
        print(summarize(outputs, options.top))
    finally:
        run.cleanup(context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
