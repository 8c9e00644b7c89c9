"""Import benchmark: a generated Disqus export into a fresh SQLite database (``make bench-import``).

    .venv/bin/python -m bench.import_rate [--comments 1000000] [--keep FILE.xml]

Writes the export (bench/generate_disqus.py) unless ``--keep`` names one already made,
migrates an empty database in a temporary instance folder, runs
``flask engagement import disqus`` in a child process and reports comments per second
(wall clock, process start included) and the child's peak RSS. Targets: at least 5,000
comments/s and at most 250 MB.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate_disqus import generate

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse (or create and keep) this export")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engagement-import-bench-") as folder:
        export = arguments.keep or Path(folder) / "export.xml"
        if not export.exists():
            started = time.perf_counter()
            generate(export, arguments.comments, per_thread=25)
            print(f"generated {export} ({export.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s")
        environment = {**os.environ, "ENGAGEMENT_INSTANCE_PATH": str(Path(folder) / "instance")}
        environment.pop("DATABASE_URL", None)  # always the instance folder's SQLite file
        subprocess.run([*FLASK, "db", "upgrade"], cwd=ROOT, env=environment, check=True, capture_output=True)
        started = time.perf_counter()
        result = subprocess.run([*FLASK, "engagement", "import", "disqus", str(export)], cwd=ROOT,
                                env=environment, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the migration's share is small
        cpu = usage.ru_utime + usage.ru_stime
        print(result.stdout.strip())
        print(f"{arguments.comments:,} comments in {seconds:.0f} s: {arguments.comments / seconds:,.0f} comments/s"
              f" on SQLite ({arguments.comments / cpu:,.0f} per CPU second, which a busy machine"
              f" changes less), peak RSS {usage.ru_maxrss / 1024:.0f} MB (targets: 5,000 comments/s, 250 MB)")


if __name__ == "__main__":
    main()
