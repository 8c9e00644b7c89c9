"""Isso's SQLite database, opened read-only: ``threads`` (id, uri, title) and ``comments``.

A comment has tid, id, parent, created (Unix time), modified, mode (1 accepted, 2 waiting
for moderation, 4 deleted: kept while it has replies), author, email, website, text (the
Markdown as typed), likes and dislikes. remote_addr is never read.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from engagement.importing.records import (
    ImportedComment,
    ImportedThread,
    ImportFailed,
    ImportRecord,
    clean_author,
)
from engagement.models import BodyFormat, CommentStatus

SOURCE = "isso"
_STATUSES = {1: CommentStatus.APPROVED, 2: CommentStatus.PENDING, 4: CommentStatus.DELETED}
_COMMENTS = (
    "SELECT id, tid, parent, created, mode, author, email, website, text, likes, dislikes FROM comments ORDER BY id"
)


def read_isso(path: Path, name: str) -> Iterator[ImportRecord]:
    """Threads, then comments, of an Isso database. Raises ImportFailed."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ImportFailed(f"{name}: cannot open it read-only: {exc}") from exc
    try:
        yield from _records(connection, name)
    except sqlite3.Error as exc:
        raise ImportFailed(f"{name}: not an Isso database: {exc}") from exc
    finally:
        connection.close()


def _records(connection: sqlite3.Connection, name: str) -> Iterator[ImportRecord]:
    for thread_id, uri, title in connection.execute("SELECT id, uri, title FROM threads ORDER BY id"):
        yield ImportedThread(ref=str(thread_id), url=uri, identifier=uri, title=title)
    for row in connection.execute(_COMMENTS):
        comment_id, thread_id, parent, created, mode, author, email, website, text, likes, dislikes = row
        where = f"{name}: comments row with id {comment_id!r}"
        try:
            created_at = datetime.fromtimestamp(float(created), tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise ImportFailed(f"{where}: created {created!r} is not a Unix time") from exc
        likes, dislikes = _count(likes), _count(dislikes)
        yield ImportedComment(
            source=SOURCE,
            source_id=str(comment_id),
            thread_ref=str(thread_id),
            parent=(SOURCE, str(parent)) if parent is not None else None,
            created_at=created_at,
            body=text or "",
            body_format=BodyFormat.MARKDOWN,
            status=_STATUSES.get(mode, CommentStatus.PENDING),
            author=clean_author(author, email, website),
            score=likes - dislikes,
            upvotes=likes,
            downvotes=dislikes,
        )


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0
