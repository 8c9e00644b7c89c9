"""The Markdown report: targets, machine, one table per backend, RSS, the scale step."""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa

from bench import explain, seed
from bench.scenarios import (
    CEILING,
    ENGAGEMENT,
    RSS_LIMIT_MB,
    SCALE_RATIO_LIMIT,
    WORKERS,
    BackendRun,
    Measurement,
    Report,
    WrkResult,
)

ROOT = Path(__file__).resolve().parent.parent
# How the ratio column names each ceiling.
CEILING_SHORT = {
    "get_fixed": "fixed-JSON GET",
    "post_fixed": "fixed-JSON POST",
    "get_row": "1-row SELECT GET",
    "post_row": "1-insert POST",
}


def _command_output(*command: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (completed.stdout or completed.stderr).strip()
    return ""


def git_revision() -> tuple[str, bool]:
    """Short commit and whether tracked files differ from it (read-only: no index refresh)."""
    sha = _command_output("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(_command_output("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"))
    return sha, dirty


def machine_description(args: argparse.Namespace, admin: sa.Engine | None) -> dict[str, str]:
    """CPU, memory, kernel and software versions, and how server and load generator were run."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    memory_kb = int(memory.group(1)) if memory else 0
    description = {
        "CPU": model.group(1).strip() if model else platform.processor(),
        "Cores (logical)": str(os.cpu_count()),
        "Memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "Kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Flask / gunicorn": f"{version('flask')} / {version('gunicorn')}",
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": "not used",
        "Redis": "not used",
        "wrk": _command_output("wrk", "-v").split(" Copyright")[0] if shutil.which("wrk") else "missing",
        "Server": f"gunicorn, {WORKERS} gthread workers of {os.environ.get('ENGAGEMENT_THREADS', '8')} threads, "
                  "engagement's gunicorn.conf.py with --max-requests 0, "
                  f"pinned with taskset -c {args.server_cpu}",
        "Load generator": f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
                          f"(after a {args.warmup} s warm-up), pinned with taskset -c {args.load_cpu}",
        "Database servers": "PostgreSQL and Redis run as system services, not pinned (they share both CPUs)",
        "Load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
    }
    if admin is not None:
        with contextlib.suppress(Exception), admin.connect() as connection:
            description["PostgreSQL"] = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
    if "postgres-redis" in args.backends:
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(args.redis_url)
            description["Redis"] = str(client.info("server")["redis_version"])
            client.close()
    return description


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _statuses(result: WrkResult) -> str:
    if not result.failed:
        return "0"
    parts = [f"{status}×{count}" for status, count in sorted(result.statuses.items()) if not 200 <= status < 300]
    parts += [f"socket {name}×{count}" for name, count in result.socket_errors.items()]
    return f"**{result.non_2xx}** ({', '.join(parts)})" if parts else f"**{result.non_2xx}**"


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured


def _ceiling_of(run: BackendRun, measurement: Measurement) -> WrkResult | None:
    """The ceiling a scenario's ratio uses: its own, measured in turns with it, else the backend's."""
    if measurement.ceiling is not None:
        return measurement.ceiling
    ceiling = {m.scenario.name: m for m in run.ceiling}.get(measurement.scenario.ceiling or "")
    return ceiling.result if ceiling is not None else None


def _ratio(run: BackendRun, measurement: Measurement) -> float | None:
    ceiling = _ceiling_of(run, measurement)
    if ceiling is None or measurement.result is None or not ceiling.rps:
        return None
    return measurement.result.rps / ceiling.rps


def verdicts(report: Report) -> list[Verdict]:
    """The issue's targets, judged on the SQLite run (ratios to the same run's ceiling)."""
    out: list[Verdict] = []
    sqlite_run = next((run for run in report.backends if run.backend.name == "sqlite"), None)
    for scenario in ENGAGEMENT:
        if scenario.target is None:
            continue
        text = f"{scenario.label} ≥ {scenario.target:.2f} × {CEILING_SHORT[scenario.ceiling or '']}"
        measurement = next((m for m in sqlite_run.measurements if m.scenario.name == scenario.name), None) if sqlite_run else None
        ratio = _ratio(sqlite_run, measurement) if sqlite_run and measurement else None
        if ratio is None or measurement is None or measurement.result is None:
            out.append(Verdict(text, "not measured", None))
        else:
            clean = not measurement.result.failed
            shown = f"{ratio:.2f}" + ("" if clean else " (run had errors)")
            out.append(Verdict(text, shown, ratio >= scenario.target and clean))
    peaks = [mb for run in report.backends for sample in run.rss.values() for mb in sample.values()]
    out.append(Verdict(
        f"Per-worker peak RSS ≤ {RSS_LIMIT_MB:.0f} MB (all backends)",
        f"{max(peaks):.0f} MB" if peaks else "not measured",
        (max(peaks) <= RSS_LIMIT_MB) if peaks else None,
    ))
    scale = report.scale
    timing = scale.timings[0] if scale and scale.timings else None
    out.append(Verdict(
        f"Thread page at 1M comments ≤ {SCALE_RATIO_LIMIT} × at 10k (PostgreSQL)",
        f"{timing.ratio:.2f}" if timing else "not measured",
        (timing.ratio <= SCALE_RATIO_LIMIT) if timing else None,
    ))
    out.append(Verdict(
        "No `Seq Scan on comments` in the EXPLAIN plans at 1M comments (PostgreSQL)",
        ("none" if not scale.seq_scans else ", ".join(scale.seq_scans)) if scale and scale.plans else "not measured",
        (not scale.seq_scans) if scale and scale.plans else None,
    ))
    return out


def _met(value: bool | None) -> str:
    return "—" if value is None else "yes" if value else "**no**"


def render(report: Report) -> str:
    sha, dirty = git_revision()
    lines = [
        f"# engagement benchmark, {report.started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Commit `{sha}`{' with uncommitted changes' if dirty else ''}; the whole run took "
        f"{report.seconds / 60:.1f} minutes (`make bench`). Ratios compare req/s with the bare-Flask ceiling "
        f"measured in the same run, on the same machine, {_ceiling_timing(report)}; targets are judged on SQLite.",
        "",
        "## Targets",
        "",
        "| target | measured | met? |",
        "|---|---|---|",
    ]
    lines += [f"| {v.target} | {v.measured} | {_met(v.met)} |" for v in verdicts(report)]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in report.machine.items()]
    if report.seed_summary:
        s = report.seed_summary
        lines += [
            "", "## Data", "",
            f"Every backend starts from the same seed: {s.articles:,} articles ({s.articles - 3:,} listing articles "
            f"with view counts, reaction totals and {s.activity_buckets:,} hourly activity buckets), "
            f"{s.comments:,} comments (`{seed.THREAD_SMALL}`: 100 with replies to depth 4 and votes; "
            f"`{seed.THREAD_LARGE}`: 1,000; `{seed.LIVE}`: 20, where POST comment writes), {s.votes:,} votes, "
            f"{s.reactions:,} reactions. Write scenarios send a distinct reader token with every request; "
            "POST comment bodies are unique (the duplicate rule would answer 409).",
        ]
    lines += _ceiling_section(report)
    for run in report.backends:
        lines += ["", f"## {run.backend.label}", ""]
        if run.error:
            lines += [f"The run failed: `{run.error.splitlines()[0]}`", ""]
            continue
        lines += [
            "| scenario | req/s | p50 ms | p99 ms | non-2xx | ceiling req/s | ratio to ceiling | target | met? |",
            "|---|---:|---:|---:|---:|---:|---|---:|---|",
        ]
        for m in run.measurements:
            if m.result is None:
                lines.append(f"| {m.scenario.label} | — | — | — | — | — | {m.note} | — | — |")
                continue
            r = m.result
            ceiling = _ceiling_of(run, m)
            ratio = _ratio(run, m)
            ratio_text = f"{ratio:.2f} × {CEILING_SHORT[m.scenario.ceiling or '']}" if ratio is not None else "—"
            target = f"≥ {m.scenario.target:.2f}" if m.scenario.target is not None else "—"
            met = None if m.scenario.target is None or ratio is None else (ratio >= m.scenario.target and not r.failed)
            label = m.scenario.label + (" ⚠ errors" if r.failed else "") + (f" ({m.note})" if m.note else "")
            lines.append(
                f"| {label} | {_fmt(r.rps)} | {_fmt(r.p50_ms)} | {_fmt(r.p99_ms)} | {_statuses(r)} | "
                f"{_fmt(ceiling.rps) if ceiling else '—'} | {ratio_text} | {target} | {_met(met)} |"
            )
    lines += _rss_section(report)
    lines += _scale_section(report)
    return "\n".join(lines) + "\n"


def _ceiling_timing(report: Report) -> str:
    paired = any(m.ceiling is not None for run in report.backends for m in run.measurements)
    if paired:
        return "in turns with each scenario (the *ceiling req/s* column: both in alternating slices)"
    return "right before each backend"


def _ceiling_section(report: Report) -> list[str]:
    runs = [run for run in report.backends if run.ceiling]
    if not runs:
        return []
    lines = [
        "", "## Ceiling: bare Flask (bench/bare_app.py)", "",
        "The same gunicorn settings, measured right before each backend's scenarios (req/s, then p50 / p99 ms); "
        "a scenario's ratio uses its own ceiling, measured again in turns with it, when the run paired them. "
        "GET and POST return a fixed JSON document (POST parses its JSON body); the SQLite routes read one row "
        "by primary key or insert one row, with engagement's PRAGMAs (WAL, synchronous=NORMAL).",
        "",
        "| scenario | called in ratios | " + " | ".join(f"before {run.backend.label}" for run in runs) + " |",
        "|---|---|" + "---:|" * len(runs),
    ]
    by_run = [{m.scenario.name: m.result for m in run.ceiling} for run in runs]
    for scenario in CEILING:
        cells = []
        for results in by_run:
            r = results.get(scenario.name)
            cells.append(
                "—" if r is None else
                f"{_fmt(r.rps)} ({_fmt(r.p50_ms)} / {_fmt(r.p99_ms)})" + ("" if not r.failed else f" {_statuses(r)}")
            )
        lines.append(f"| {scenario.label} | {CEILING_SHORT[scenario.name]} | " + " | ".join(cells) + " |")
    return lines


def _rss_section(report: Report) -> list[str]:
    runs = [run for run in report.backends if run.rss]
    if not runs:
        return []
    lines = [
        "", "## Per-worker peak RSS", "",
        "VmHWM of each gunicorn worker (MB), read from /proc after each scenario; workers are not recycled "
        f"during a backend's run, so each figure is the peak so far. Target ≤ {RSS_LIMIT_MB:.0f} MB per worker.",
        "",
        "| after scenario | " + " | ".join(run.backend.label for run in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for scenario in ENGAGEMENT:
        cells = []
        for run in runs:
            sample = run.rss.get(scenario.name)
            cells.append(" / ".join(f"{mb:.0f}" for mb in sample.values()) if sample else "—")
        if any(cell != "—" for cell in cells):
            lines.append(f"| {scenario.label} | " + " | ".join(cells) + " |")
    if report.ceiling_rss:
        lines += ["", "Bare-Flask ceiling workers: " + " / ".join(f"{mb:.0f}" for mb in report.ceiling_rss.values()) + " MB."]
    return lines


def _scale_section(report: Report) -> list[str]:
    lines = ["", "## Scale: thread page at 1M comments (PostgreSQL)", ""]
    scale = report.scale
    if scale is None:
        return lines + [f"Not run{': `' + report.scale_error + '`' if report.scale_error else ''}."]
    lines += [
        f"Two databases built from the seed: {scale.small_total:,} and {scale.large_total:,} comments "
        f"(filler comments spread over the {seed.LISTING_COUNT:,} listing articles by `INSERT ... SELECT "
        f"generate_series`, {scale.fill_seconds:.0f} s for both, then `VACUUM ANALYZE`). The seeded threads are the "
        "same in both. Each page is requested in-process through the whole Flask stack (test client) and "
        "rendered each time (the rendered-response cache off), "
        "alternating batches of 10 between the two databases so machine load affects both alike.",
        "",
        f"| page | median ms at {scale.small_total:,} | p90 | median ms at {scale.large_total:,} | p90 | ratio | target | met? |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for index, timing in enumerate(scale.timings):
        target = f"≤ {SCALE_RATIO_LIMIT}" if index == 0 else "—"
        met = _met(timing.ratio <= SCALE_RATIO_LIMIT) if index == 0 else "—"
        lines.append(
            f"| {timing.label} | {timing.small_median_ms:.2f} | {timing.small_p90_ms:.2f} | "
            f"{timing.large_median_ms:.2f} | {timing.large_p90_ms:.2f} | {timing.ratio:.2f} | {target} | {met} |"
        )
    lines += [
        "",
        f"### Query plans at {scale.large_total:,} comments",
        "",
        "SQL captured from the running code (`before_cursor_execute` while the endpoints are requested "
        "in-process), run with `EXPLAIN (ANALYZE, BUFFERS)`. *Comments read* counts the rows every scan of "
        "`comments` produced or discarded by a filter; a query reading more than "
        f"{explain.OVERREAD_FACTOR}× the rows it returns is flagged, since its cost then follows the size of the "
        "thread or of the table rather than the page.",
        "",
        "| query | rows returned | comments read | ms | flags |",
        "|---|---:|---:|---:|---|",
    ]
    for plan in scale.plans:
        flags = []
        if plan.seq_scan_on_comments:
            flags.append("**Seq Scan on comments**")
        if plan.overreads:
            flags.append(f"**reads {plan.comments_read:,} comments for {plan.rows_returned:,} rows**")
        lines.append(
            f"| {plan.label} | {plan.rows_returned:,} | {plan.comments_read:,} | {plan.execution_ms:.2f} | "
            f"{'; '.join(flags) or 'ok'} |"
        )
    lines.append("")
    lines.append(
        f"**`Seq Scan on comments` in: {', '.join(scale.seq_scans)}.**" if scale.seq_scans
        else "No plan contains `Seq Scan on comments`."
    )
    if scale.overreading:
        lines.append(f"Plans reading far more comments than they return: {', '.join(scale.overreading)}.")
    for problem in scale.problems:
        lines.append(f"\n- capture problem: {problem}")
    for plan in scale.plans:
        lines += ["", f"#### {plan.label}", "", "```sql", plan.sql.strip(), "```", "", "```", plan.text, "```"]
    return lines


def write_report(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    sha, _ = git_revision()
    text = render(report)
    dated = directory / f"{report.started:%Y-%m-%d}-{sha}.md"
    latest = directory / "latest.md"
    for path in (dated, latest):
        path.write_text(text)
    return [dated, latest]
