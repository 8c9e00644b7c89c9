"""Reading and sanitising an import in other processes while the importing one writes.

An import does three things per comment: parse it out of the file, sanitise its body
(the costliest of the three: bleach parses an imported HTML body with html5lib) and
write it. The
writing has to happen in one process, in one transaction; the rest need not. With
``workers`` processes to spare, a reading process parses the file and sanitises the
bodies (with one worker), or hands chunks of records to ``workers - 1`` sanitising
processes (with more), and passes the rendered chunks on to the importing process in
file order, a few chunks ahead at most: all of them work side by side, and memory stays
bounded whatever the size of the file. Each of those processes costs memory of its own
too (tens of MB, see docs/scaling.md). Small files, and ``workers=0``, are read and
sanitised in the importing process: starting others costs more than it saves there.
Either way the records and their HTML are exactly what ``render_source`` gives.
"""
from __future__ import annotations

import gc
import itertools
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engagement.importing.records import MAX_IMPORTED_BODY_LENGTH, ImportedComment, ImportFailed, ImportRecord
from engagement.models import BodyFormat
from engagement.services.comments import render_source
from engagement.text import strip_unsafe_codepoints

CHUNK_SIZE = 500  # records per chunk, as sanitised and handed over
CHUNKS_AHEAD = 4  # chunks the reading process may have ready before the importing one takes them
# Files smaller than this are read in the importing process.
READING_PROCESS_FROM_BYTES = 1_000_000
# How often the importing process, waiting for a chunk, checks that the reader still runs
# (and a reading or sanitising process, that its parent does).
LIVENESS_SECONDS = 1.0
TIMER_GRACE_SECONDS = 1.0
STOP_SECONDS = 10.0  # for a terminated reading process to stop its sanitising ones

log = logging.getLogger(__name__)

RenderedRecord = tuple[ImportRecord, str | None]
Progress = Callable[[int], None] | None


def spare_cpus() -> int:
    """The cores this process may run on (its affinity, not the machine's total), less its own."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(cores - 1, 0)


def body_html(body: str, body_format: BodyFormat) -> str:
    """The sanitised HTML of an imported body, as stored (unsafe code points removed);
    nothing for a body too long to be imported (the writer skips it)."""
    if len(body) > MAX_IMPORTED_BODY_LENGTH:
        return ""
    source = strip_unsafe_codepoints(body)
    return render_source(source, body_format) if source else ""


def with_html(records: Iterable[ImportRecord]) -> Iterator[RenderedRecord]:
    """Each record with its body's HTML (None for all but comments), in this process."""
    for record in records:
        yield record, body_html(record.body, record.body_format) if isinstance(record, ImportedComment) else None


class ReaderCrashed(Exception):
    """The reading process failed for a reason other than the file (a bug, or it was killed)."""


@dataclass(frozen=True)
class RecordSource:
    """A file and the reader for its format: all another process needs to read it.

    ``reader`` is a module-level function (so it travels to the reading process by name)
    taking a binary stream, or the path itself when ``streamed`` is False (a database).
    """

    path: Path
    reader: Callable[[Any, str], Iterator[ImportRecord]]
    streamed: bool = True

    def records(self, on_read: Progress = None) -> Iterator[ImportRecord]:
        """The file's records, calling ``on_read`` with the number of bytes read as it goes."""
        if not self.streamed:
            yield from self.reader(self.path, self.path.name)
            return
        with self.path.open("rb") as raw:
            yield from self.reader(_CountingReader(raw, on_read), self.path.name)


def rendered_records(source: RecordSource, *, workers: int, on_read: Progress = None) -> Iterator[RenderedRecord]:
    """The records of ``source`` with their bodies' HTML, in file order.

    With ``workers``, a file of at least READING_PROCESS_FROM_BYTES is read by a reading
    process and sanitised by it (one worker) or by ``workers - 1`` more processes.
    ImportFailed from the reader (a malformed file) ends the stream wherever it comes
    from; the import then fails as a whole.
    """
    if not workers or source.path.stat().st_size < READING_PROCESS_FROM_BYTES:
        yield from with_html(source.records(on_read))
        return
    yield from _from_reading_process(source, workers, on_read)


def _from_reading_process(source: RecordSource, workers: int, on_read: Progress) -> Iterator[RenderedRecord]:
    context = reading_context()
    handover = context.Queue(maxsize=CHUNKS_AHEAD)
    reader = context.Process(
        target=_read_and_render, args=(source, handover, CHUNK_SIZE, workers), name="engagement-import-reader"
    )
    with _shared_after_fork():
        reader.start()
    log.info("import: reading in another process", extra={"workers": workers, "start": context.get_start_method()})
    reported = 0
    try:
        while True:
            kind, payload, bytes_read = _next_message(handover, reader)
            if on_read is not None and bytes_read > reported:
                on_read(bytes_read - reported)
                reported = bytes_read
            if kind == "chunk":
                yield from payload
            elif kind == "failed":
                raise payload
            else:
                return
    finally:
        if reader.is_alive():  # the import stopped early: the rest of the file is not wanted
            reader.terminate()  # its SIGTERM handler stops the sanitising processes first
            reader.join(STOP_SECONDS)
            if reader.is_alive():  # the sanitising processes see it gone and follow
                reader.kill()
        reader.join()
        handover.close()


def _next_message(handover: Any, reader: multiprocessing.process.BaseProcess) -> tuple[str, Any, int]:
    while True:
        try:
            return handover.get(timeout=LIVENESS_SECONDS)
        except queue.Empty:
            if not reader.is_alive():
                raise ReaderCrashed(f"the reading process ended unexpectedly (exit code {reader.exitcode})") from None


def _read_and_render(source: RecordSource, handover: Any, chunk_size: int, workers: int) -> None:
    """The reading process: rendered chunks, then ("done"), or ("failed", error)."""

    def stop(*_: object) -> None:
        """Terminated by the importing process: leave through the pool's own shutdown,
        which stops the sanitising processes too, without waiting to hand over chunks
        that nobody will take (a process exits only once its queue is flushed)."""
        handover.cancel_join_thread()
        sys.exit(1)

    signal.signal(signal.SIGTERM, stop)
    position = [0]

    def advance(size: int) -> None:
        position[0] += size

    try:
        chunks = _chunks(source.records(advance), chunk_size)
        if workers > 1:
            rendered = _rendered_chunks(chunks, workers - 1)
        else:
            exit_with_parent()
            rendered = (list(with_html(chunk)) for chunk in chunks)
        for chunk in rendered:
            handover.put(("chunk", chunk, position[0]))
        handover.put(("done", None, position[0]))
    except ImportFailed as exc:
        handover.put(("failed", exc, position[0]))
    except Exception:  # noqa: BLE001 - a bug: its traceback is sent, for the importing process to raise
        handover.put(("failed", ReaderCrashed(traceback.format_exc()), position[0]))


def _rendered_chunks(chunks: Iterator[list[ImportRecord]], workers: int) -> Iterator[list[RenderedRecord]]:
    """Each chunk with its HTML, sanitised by ``workers`` processes, in order; at most
    ``2 * workers + 1`` chunks in flight. Starts this process's watch on its parent once
    they are forked."""
    # Forked: this process has nothing to hide from them, and no thread yet (a fork
    # context makes the pool start all its processes at the first submit, before its
    # own thread).
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=exit_with_parent) as pool:
        with _shared_after_fork():
            pool.submit(_render_all, []).result()  # every process forked now, while frozen
        exit_with_parent()  # only now: no thread may run in a process while it forks
        in_flight: deque[tuple[list[ImportRecord], Future[list[str]]]] = deque()
        try:
            for chunk in chunks:
                in_flight.append((chunk, pool.submit(_render_all, _bodies(chunk))))
                if len(in_flight) > 2 * workers:
                    done, future = in_flight.popleft()
                    yield _attach(done, future.result())
            while in_flight:
                done, future = in_flight.popleft()
                yield _attach(done, future.result())
        finally:
            for _, future in in_flight:
                future.cancel()


def exit_with_parent() -> None:
    """End this process soon after the one that started it is gone (killed, or crashed):
    nobody would take what it makes, and it would wait for that forever."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(LIVENESS_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="engagement-exit-with-parent", daemon=True).start()


def _chunks(records: Iterable[ImportRecord], size: int) -> Iterator[list[ImportRecord]]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _bodies(chunk: list[ImportRecord]) -> list[tuple[str, BodyFormat]]:
    """The (body, format) of each comment in ``chunk``: all a sanitising process needs."""
    return [(record.body, record.body_format) for record in chunk if isinstance(record, ImportedComment)]


def _render_all(work: list[tuple[str, BodyFormat]]) -> list[str]:
    """The HTML of each (body, format), in order (in a sanitising process)."""
    return [body_html(body, body_format) for body, body_format in work]


def _attach(chunk: list[ImportRecord], rendered: list[str]) -> list[RenderedRecord]:
    bodies = iter(rendered)
    return [(record, next(bodies) if isinstance(record, ImportedComment) else None) for record in chunk]


def reading_context() -> multiprocessing.context.BaseContext:
    """How the reading process starts: forked from this one where that is safe, else from
    a fork server that has the sanitiser loaded, else (no fork at all) spawned.

    A fork starts at once and shares this process's memory (the application, a hundred
    MB) until one of them writes to it; the reading process never touches the database
    connection it inherits, and leaves without closing it. A process with other threads
    is not forked (a lock held by one of them would stay held in the child forever);
    timers about to fire are given a moment first (the rate limiter's in-memory storage
    starts one of 10 ms with the application).
    """
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.join(TIMER_GRACE_SECONDS)
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


@contextmanager
def _shared_after_fork() -> Iterator[None]:
    """Objects frozen while a child is forked: the child's garbage collector then leaves
    them alone instead of writing to every page that holds one, so those pages stay
    shared (the reading and sanitising processes kept 35 MB less of their own each)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _CountingReader:
    """A binary file that reports how many bytes were read (for the progress bar)."""

    def __init__(self, raw: BinaryIO, on_read: Progress):
        self.raw, self.on_read = raw, on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.on_read is not None:
            self.on_read(len(data))
        return data
