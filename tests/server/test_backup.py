"""Online SQLite backups: taken while a real server takes writes, restored, complete."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from engagement import PROJECT_ROOT, create_app
from tests.conftest import TEST_SECRET_KEY
from tests.server.conftest import CLIENT_TIMEOUT_SECONDS, LiveServer

ARTICLE = "backup-under-load"
WRITERS = 4
WRITES_BEFORE_BACKUP = 20
WARM_UP_SECONDS = 60


def _sqlite_file(server: LiveServer) -> Path:
    if server.backend != "sqlite":
        pytest.skip("backup copies the embedded SQLite database")
    return Path(server.database_url.removeprefix("sqlite:///"))


def _post(server: LiveServer, body: str) -> int | None:
    """Post a comment; its id once the server acknowledged it (201), else None."""
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/articles/{ARTICLE}/comments",
        data=json.dumps({"body": body}).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 Firefox/128.0"},
    )
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())["id"] if response.status == 201 else None
    except OSError:
        return None


def _run_backup(database: Path, target: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": TEST_SECRET_KEY,
        "ENGAGEMENT_INSTANCE_PATH": str(target.parent / "instance"), "ENGAGEMENT_LOG_LEVEL": "WARNING",
    }
    flask = Path(sys.executable).parent / "flask"
    return subprocess.run(
        [str(flask), "--app", "wsgi", "engagement", "backup", str(target)],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )


def test_a_backup_taken_under_write_load_restores_every_acknowledged_comment(live_server, tmp_path):
    database = _sqlite_file(live_server)
    acknowledged: list[tuple[float, int]] = []  # (when the 201 arrived, comment id)
    stop = threading.Event()

    def writer(number: int) -> None:
        sequence = 0
        while not stop.is_set():
            sequence += 1
            comment_id = _post(live_server, f"writer {number}, comment {sequence}: {time.monotonic_ns()}")
            if comment_id is not None:
                acknowledged.append((time.monotonic(), comment_id))

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        # Under way before the copy starts, however slow the machine (not a fixed sleep).
        deadline = time.monotonic() + WARM_UP_SECONDS
        while len(acknowledged) < WRITES_BEFORE_BACKUP and time.monotonic() < deadline:
            time.sleep(0.05)
        backup_started = time.monotonic()
        completed = _run_backup(database, tmp_path / "copy.db")
        time.sleep(0.5)  # writes go on after the copy, too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert completed.returncode == 0, completed.stderr
    assert "integrity: ok" in completed.stdout

    before = {comment_id for moment, comment_id in acknowledged if moment < backup_started}
    assert len(before) >= WRITES_BEFORE_BACKUP, "the writers were not writing"
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        stored = {row[0] for row in copy.execute("SELECT id FROM comments")}
    assert before <= stored  # every comment acknowledged before the backup began is in it
    assert stored <= {comment_id for _, comment_id in acknowledged}  # and nothing half-written

    # The copy serves as a database of its own.
    restored = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'copy.db'}", "SECRET_KEY": TEST_SECRET_KEY, "TESTING": True,
    })
    page = restored.test_client().get(f"/api/v1/articles/{ARTICLE}/comments?limit=100").get_json()
    assert page["article"]["comment_count"] == len(stored)


def test_a_backup_never_overwrites_or_half_writes_its_target(live_server, tmp_path):
    database = _sqlite_file(live_server)
    target = tmp_path / "existing.db"
    target.write_bytes(b"keep me")
    completed = _run_backup(database, target)
    assert completed.returncode != 0 and "exists" in completed.stderr
    assert target.read_bytes() == b"keep me"
    missing = _run_backup(tmp_path / "no-such.db", tmp_path / "copy.db")
    assert missing.returncode != 0 and not (tmp_path / "copy.db").exists()
