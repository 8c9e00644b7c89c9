"""The reading process: the same records and HTML as one process, in order, a few chunks
ahead at most, and every way it can end (a bad file, a bug, a kill, an import stopped)."""
from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.importing import pipeline
from engagement.importing.records import (
    MAX_IMPORTED_BODY_LENGTH,
    ImportedComment,
    ImportedThread,
    ImportFailed,
    ImportRecord,
    Skipped,
)
from engagement.models import Article, BodyFormat, Comment, CommentStatus
from engagement.services.comments import render_source
from tests.importing.commands import run_import
from tests.importing.disqus_files import export, post, thread

WORKERS = 3  # processes beside the importing one: the reading one and two sanitising ones
SANITISERS = WORKERS - 1
BODIES = [
    "<![CDATA[<p>Hello <b>world</b> <script>alert(1)</script> see example.com</p>]]>",
    "&lt;p&gt;Entities &amp;amp; <![CDATA[<a href='javascript:alert(1)' onclick='x()'>link</a>]]>&lt;/p&gt;",
    "<![CDATA[<blockquote><p>quoted<p>unclosed</blockquote><img src=x onerror=alert(1)>]]>",
    "Plain text with https://example.org/path?q=1 in it",
]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 records, and a reading process for files of any size."""
    monkeypatch.setattr(pipeline, "CHUNK_SIZE", 3)
    monkeypatch.setattr(pipeline, "READING_PROCESS_FROM_BYTES", 0)


def site(posts: int) -> str:
    return export(
        thread("1", "https://example.org/one/"),
        thread("2", "https://example.org/two/"),
        *[post(str(n), str(1 + n % 2), BODIES[n % len(BODIES)], parent=str(n - 2) if n % 3 == 2 else None)
          for n in range(100, 100 + posts)],
    )


def stored(app) -> dict[str, tuple]:
    with app.app_context():
        comments = db.session.scalars(sa.select(Comment)).all()
        import_ids = {comment.id: comment.import_id for comment in comments}
        result = {
            comment.import_id: (comment.body_source, comment.body_html, comment.status,
                                import_ids.get(comment.parent_id), comment.depth)
            for comment in comments
        }
        db.session.remove()
        return result


def wipe(app) -> None:
    with app.app_context():
        db.session.execute(sa.delete(Comment))
        db.session.execute(sa.delete(Article))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def another_thread():
    """A thread running beside the test's: the reading process then starts from a fork
    server (the test process may hold other threads anyway; the command line's own fork
    is tested in a process of its own, below)."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    assert pipeline.reading_context().get_start_method() == "forkserver"
    yield
    stop.set()
    other.join()


@pytest.mark.parametrize("workers", ["1", "3"])  # the reader sanitises; two processes do
def test_an_import_read_by_other_processes_stores_what_one_process_stores(app, cli, write_file, small_chunks,
                                                                         another_thread, workers):
    path = write_file("site.xml", site(25))
    assert cli("import", "disqus", str(path), "--workers", "0").exit_code == 0
    alone = stored(app)
    wipe(app)
    result = cli("import", "disqus", str(path), "--workers", workers)
    assert result.exit_code == 0, result.output
    assert stored(app) == alone
    assert len(alone) == 25
    assert all("<script" not in html and "onerror" not in html and "javascript:" not in html
               for _, html, *_ in alone.values())


def test_the_import_command_forks_its_helpers_and_stores_what_one_process_stores(app, database_url, write_file,
                                                                                tmp_path):
    path = write_file("large.xml", site(3000))
    assert path.stat().st_size >= pipeline.READING_PROCESS_FROM_BYTES
    outcomes = []
    for workers in ("0", "1", "2"):
        status, stdout, stderr = run_import(path, database_url, tmp_path, options=("--workers", workers))
        assert status == 0, stderr
        started = [json.loads(line) for line in stderr.splitlines() if "another process" in line]
        assert [(entry["start"], entry["workers"]) for entry in started] == (
            [] if workers == "0" else [("fork", int(workers))]
        )
        outcomes.append((stdout, stored(app)))
        wipe(app)
    assert outcomes[0][1] and outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]


def test_a_file_that_breaks_in_the_reading_process_leaves_the_database_unchanged(cli, write_file, table_counts,
                                                                                small_chunks):
    document = site(20)
    result = cli("import", "disqus", str(write_file("cut.xml", document[:-200])), "--workers", "2")
    assert result.exit_code == 1 and "line" in result.output and "nothing was imported" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}


# --- readers the reading process runs (module level: they travel by name) -----------------

def comment(number: int, body: str = "<p>hi <b>there</b></p>") -> ImportedComment:
    return ImportedComment(
        source="test", source_id=str(number), thread_ref="t", created_at=datetime(2020, 1, 1, tzinfo=timezone.utc),
        body=body, body_format=BodyFormat.HTML if number % 2 else BodyFormat.MARKDOWN, status=CommentStatus.APPROVED,
    )


def mixed_records() -> list[ImportRecord]:
    return [ImportedThread(ref="t"), Skipped("a pingback"),
            *[comment(n, f"**{n}** <i>x</i>\x00") for n in range(10)], ImportedThread(ref="u")]


def read_mixed(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    file.read()
    yield from mixed_records()


def read_lines_noting_progress(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    """A comment per line; how many were read so far goes to ``<file>.read``."""
    note = Path(file.raw.name + ".read")  # type: ignore[attr-defined]
    for number, _ in enumerate(iter(lambda: file.read(10), b""), start=1):
        note.write_text(str(number))
        yield comment(number)


def read_then_fail(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    yield from (comment(n) for n in range(7))
    raise ImportFailed(f"{name}: broken at line 9")


def read_then_break(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    yield comment(1)
    {}["a bug"]


def children_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def assert_ended(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in pids)


def through_reading_process(tmp_path: Path, reader, content: bytes = b"x" * 100, **kwargs):
    path = tmp_path / "source.bin"
    path.write_bytes(content)
    return pipeline.rendered_records(pipeline.RecordSource(path, reader), workers=WORKERS, **kwargs)


def test_a_body_too_long_to_import_never_reaches_the_sanitiser(monkeypatch):
    def refuse(*_):
        raise AssertionError("sanitised")

    monkeypatch.setattr(pipeline, "render_source", refuse)
    assert pipeline.body_html("<p>x</p>" * (MAX_IMPORTED_BODY_LENGTH // 8 + 1), BodyFormat.HTML) == ""


def test_records_keep_their_order_and_only_comments_gain_html(tmp_path, small_chunks):
    records = mixed_records()
    for rendered in (pipeline.with_html(records), through_reading_process(tmp_path, read_mixed)):
        out = list(rendered)
        assert [record for record, _ in out] == records
        assert [html is None for _, html in out] == [not isinstance(record, ImportedComment) for record in records]
        for record, html in out[2:-1]:
            assert html == render_source(record.body.replace("\x00", ""), record.body_format)


def test_the_reading_process_reads_a_few_chunks_ahead_not_all_of_it(tmp_path, small_chunks):
    """Memory stays bounded: the reader waits for the import to take what it has read."""
    rendered = through_reading_process(tmp_path, read_lines_noting_progress, content=b"0123456789" * 3000)
    next(rendered)
    time.sleep(1.0)  # time enough to read far ahead, if nothing held the reader back
    read = int((tmp_path / "source.bin.read").read_text())
    # Chunks with the sanitising processes, ready in the hand-over, and one each being read and taken.
    assert read <= 3 * ((2 * SANITISERS + 1) + pipeline.CHUNKS_AHEAD + 2)
    rendered.close()


def test_progress_adds_up_to_the_file_size(tmp_path, small_chunks):
    advanced: list[int] = []
    out = list(through_reading_process(tmp_path, read_lines_noting_progress, content=b"0123456789" * 50,
                                       on_read=advanced.append))
    assert len(out) == 50
    assert sum(advanced) == 500 and len(advanced) > 1


def test_a_bad_file_fails_the_import_with_the_readers_message(tmp_path, small_chunks):
    rendered = through_reading_process(tmp_path, read_then_fail)
    with pytest.raises(ImportFailed, match="broken at line 9"):
        list(rendered)


def test_a_bug_in_the_reader_is_raised_with_its_traceback(tmp_path, small_chunks):
    with pytest.raises(pipeline.ReaderCrashed, match="KeyError: 'a bug'"):
        list(through_reading_process(tmp_path, read_then_break))


def read_then_die(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    yield from (comment(n) for n in range(30))  # more than the sanitising processes hold
    time.sleep(0.5)  # the sanitising processes are running by now
    os._exit(3)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_one_worker_reads_and_sanitises_alone(tmp_path, small_chunks):
    path = tmp_path / "source.bin"
    path.write_bytes(b"0123456789" * 3000)
    rendered = pipeline.rendered_records(pipeline.RecordSource(path, read_lines_noting_progress), workers=1)
    record, html = next(rendered)
    assert html == render_source(record.body, record.body_format)
    [reader] = multiprocessing.active_children()
    assert children_of(reader.pid) == []
    rendered.close()
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_a_reading_process_that_dies_ends_the_import_and_its_sanitisers(tmp_path, small_chunks):
    rendered = through_reading_process(tmp_path, read_then_die)
    next(rendered)
    [reader] = multiprocessing.active_children()
    sanitisers = children_of(reader.pid)
    assert len(sanitisers) == SANITISERS
    with pytest.raises(pipeline.ReaderCrashed, match="exit code 3"):
        list(rendered)
    assert_ended(sanitisers)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_an_import_stopped_early_stops_the_reading_and_sanitising_processes(tmp_path, small_chunks):
    rendered = through_reading_process(tmp_path, read_lines_noting_progress, content=b"0123456789" * 3000)
    next(rendered)
    [reader] = multiprocessing.active_children()
    sanitisers = children_of(reader.pid)
    assert len(sanitisers) == SANITISERS
    rendered.close()
    assert multiprocessing.active_children() == []
    assert_ended(sanitisers)


def test_the_importing_connection_gets_its_own_page_cache_back(app, is_postgres):
    """A large page cache, and no bound on SQLite's memory, are for the import only, failed or
    not (the connection goes back to the pool, the bound holds for the whole process)."""
    if is_postgres:
        pytest.skip("a SQLite setting")
    from engagement.importing.keys import KeyRule
    from engagement.services import importing

    during = []

    def records(fail: bool):
        yield ImportedThread(ref="t", url="https://example.org/t/")
        during.append(_page_cache_and_memory_bound())
        yield comment(1)
        if fail:
            raise ImportFailed("cut short")

    with app.app_context():
        before = _page_cache_and_memory_bound()
        for fail in (False, True):
            try:
                importing.import_records(db.session, app.extensions["engagement.keyring"],
                                         app.extensions["engagement.settings"], pipeline.with_html(records(fail)),
                                         keys=KeyRule(), now=datetime(2021, 1, 1, tzinfo=timezone.utc))
            except ImportFailed:
                pass
            assert _page_cache_and_memory_bound() == before
        db.session.rollback()
        db.session.remove()
    page_cache, memory_bound = before
    assert memory_bound == app.config["SQLITE_MEMORY_MB"] * 1024 * 1024 != 0
    assert during == [(-importing.IMPORT_SQLITE_CACHE_KIB, 0)] * 2 != [(page_cache, 0)] * 2


def _page_cache_and_memory_bound() -> tuple[int, int]:
    return tuple(db.session.execute(sa.text(f"PRAGMA {name}")).scalar_one() for name in ("cache_size", "soft_heap_limit"))
