"""Import benchmark: a generated Disqus export into a fresh SQLite database (``make bench-import``).

    .venv/bin/python -m bench.import_rate [--comments 1000000] [--keep FILE.xml] [--workers N]

Writes the export (bench/generate_disqus.py) unless ``--keep`` names one already made,
migrates an empty database in a temporary instance folder, runs
``flask engagement import disqus`` in a child process and reports comments per second
(wall clock, process start included), the CPU time of every process of the import (the
importing one, the reading one and the sanitising ones, followed with psutil), the
importing process's peak RSS and the peak memory of all of them together (PSS, which
counts pages the forked processes share once). Targets: at least 5,000 comments/s and
at most 250 MB.
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.generate_disqus import generate

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse (or create and keep) this export")
    parser.add_argument("--workers", type=int, help="passed to the import (default: the command's own)")
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
        workers = [] if arguments.workers is None else ["--workers", str(arguments.workers)]
        importing = subprocess.Popen([*FLASK, "engagement", "import", "disqus", str(export), *workers], cwd=ROOT,
                                     env=environment, stdout=subprocess.PIPE, text=True)
        tree = ProcessTree(importing.pid)
        for count in itertools.count():
            if importing.poll() is not None:
                break
            # PSS walks every page of the processes (and stalls them meanwhile): less often.
            tree.sample(with_pss=count % PSS_EVERY == 0)
            time.sleep(SAMPLE_SECONDS)
        seconds = time.perf_counter() - started
        summary = importing.stdout.read() if importing.stdout else ""
        if importing.returncode != 0:
            raise SystemExit(f"the import failed with exit status {importing.returncode}")
        print(summary.strip())
        print(f"{arguments.comments:,} comments in {seconds:.0f} s: {arguments.comments / seconds:,.0f} comments/s"
              f" on SQLite; CPU {tree.cpu_seconds():.0f} s in {len(tree.cpu)} processes"
              f" ({arguments.comments / tree.cpu_seconds():,.0f} per CPU second, which a busy machine changes less);"
              f" peak RSS of the importing process {tree.peak_rss[importing.pid] / 2**20:.0f} MB, of the others"
              f" {max((rss for pid, rss in tree.peak_rss.items() if pid != importing.pid), default=0) / 2**20:.0f} MB"
              f" at most; all together {tree.peak_pss / 2**20:.0f} MB (PSS: "
              + ", ".join(f"{pss / 2**20:.0f}" for _, pss in tree.peak_parts)
              + "; targets: 5,000 comments/s, 250 MB)")


SAMPLE_SECONDS = 0.2
PSS_EVERY = 5  # samples


class ProcessTree:
    """CPU time and memory of a process and every process below it, sampled while it runs.

    The reading and sanitising processes of an import descend from a fork server, so the
    importing process never waits for them and ``RUSAGE_CHILDREN`` would miss them.
    """

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.cpu: dict[int, float] = {}  # pid -> user + system seconds, as last seen
        self.peak_rss: dict[int, int] = {}
        self.peak_pss = 0  # the largest sum over the tree at one moment
        self.peak_parts: list[tuple[str, int]] = []  # (process, PSS) at that moment

    def sample(self, *, with_pss: bool) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        pss = 0
        parts = []
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_full_info() if with_pss else process.memory_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.cpu[process.pid] = times.user + times.system
            self.peak_rss[process.pid] = max(self.peak_rss.get(process.pid, 0), memory.rss)
            if with_pss:
                pss += memory.pss
                parts.append((process.name() if process is self.root else f"pid {process.pid}", memory.pss))
        if pss > self.peak_pss:
            self.peak_pss, self.peak_parts = pss, parts

    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

if __name__ == "__main__":
    main()
