"""The import command run in its own process, as an operator runs it."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_import(path: Path, database_url: str, tmp_path: Path, *, terminal: bool = False,
               options: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """`engagement import disqus PATH [OPTIONS]` in its own process, as an operator runs it;
    stderr on a pseudo-terminal when asked."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGEMENT_")}
    environment.update(DATABASE_URL=database_url, SECRET_KEY=TEST_SECRET_KEY,
                       ENGAGEMENT_INSTANCE_PATH=str(tmp_path / "instance"), REDIS_URL="")
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "engagement", "import", "disqus", str(path), *options]
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
