"""The progress bar: drawn on a terminal while a file is read, never in a pipe or a log."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET_KEY
from tests.importing.disqus_files import export, post, thread

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_import(path: Path, database_url: str, tmp_path: Path, *, terminal: bool) -> tuple[int, str, str]:
    """`engagement import disqus PATH` in its own process; stderr on a pseudo-terminal when asked."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGEMENT_")}
    environment.update(DATABASE_URL=database_url, SECRET_KEY=TEST_SECRET_KEY,
                       ENGAGEMENT_INSTANCE_PATH=str(tmp_path / "instance"), REDIS_URL="")
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "engagement", "import", "disqus", str(path)]
    if not terminal:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr
    controller, terminal_end = pty.openpty()
    with subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE,
                          stderr=terminal_end, text=True) as process:
        os.close(terminal_end)
        stdout = process.stdout.read()
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        os.close(controller)
        return process.wait(timeout=60), stdout, drawn.decode(errors="replace")


def test_a_terminal_sees_the_bar_and_a_pipe_only_the_summary(app, database_url, write_file, tmp_path):
    path = write_file("progress.xml", export(thread("1", "https://e.org/a/"),
                                             *[post(str(n), "1", f"Comment {n}") for n in range(50)]))
    status, stdout, drawn = run_import(path, database_url, tmp_path, terminal=True)
    assert status == 0
    assert "importing progress.xml" in drawn and "100%" in drawn
    assert stdout.strip() == "imported 1 new article(s), 50 comment(s) (0 orphan(s) made top-level); skipped 0"

    status, stdout, stderr = run_import(path, database_url, tmp_path, terminal=False)
    assert status == 0 and stderr == ""
    assert stdout.strip().endswith("skipped 50 (50 already imported)")
