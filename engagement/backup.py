"""Online backups of the embedded SQLite database, taken while the service runs.

SQLite's backup API (``sqlite3.Connection.backup``) copies the database page by page
inside one read transaction, so the copy is the database as of one moment: every
transaction committed before it began is in, none after. In WAL mode readers never
block writers, so the service keeps answering while the copy is made. The copy is
written beside the target and renamed into place once it passed ``PRAGMA
integrity_check``, so a failed or interrupted backup never leaves a half-written file
under the target's name.

PostgreSQL is backed up with its own tools (``pg_dump``, or base backups with WAL
archiving for point-in-time recovery); see "Backups" in docs/operations.md.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

# The copy waits this long for a lock (a writer checkpointing) before giving up.
BUSY_TIMEOUT_SECONDS = 30.0


class BackupError(Exception):
    """The backup could not be made; the target was not touched."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    size_bytes: int


def backup_sqlite(database: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the SQLite database at ``database`` to ``target``, consistently, while it is in use.

    Raises BackupError when the database is missing, the target exists (unless
    ``overwrite``), or the copy fails its integrity check.
    """
    if not database.is_file():
        raise BackupError(f"no SQLite database at {database}")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; choose a new name or pass --overwrite")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # every page in one step: one read transaction, one moment
        copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        (pages,) = copy.execute("PRAGMA page_count").fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"the copy failed: {exc}") from exc
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {verdict}")
    os.replace(partial, target)
    return BackupResult(target, pages, target.stat().st_size)
