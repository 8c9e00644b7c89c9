"""Sanitising imported bodies on the machine's other cores while the import writes.

The sanitiser is the costliest step of an import (bleach parses every body with
html5lib), and each body is independent of the others, so a large import hands bodies
in chunks to worker processes and gets their HTML back in order, on a machine with
cores to spare (one worker per core besides the importing process's own). Small
imports render in the importing process: starting workers costs more than it saves
there. Either way the HTML is exactly what ``render_source`` gives.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from engagement.importing.records import ImportedComment, ImportRecord
from engagement.models import BodyFormat
from engagement.services.comments import render_source
from engagement.text import strip_unsafe_codepoints

CHUNK_SIZE = 500  # records per chunk handed to a worker
# Chunks rendered inline before workers start: an import smaller than this never
# starts them.
INLINE_CHUNKS = 4


def spare_cpus() -> int:
    """The cores this process may run on (its affinity, not the machine's total), less its own."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(cores - 1, 0)


def body_html(body: str, body_format: BodyFormat) -> str:
    """The sanitised HTML of an imported body, as stored (unsafe code points removed)."""
    source = strip_unsafe_codepoints(body)
    return render_source(source, body_format) if source else ""


def with_rendered_bodies(
    records: Iterable[ImportRecord], *, workers: int
) -> Iterator[tuple[ImportRecord, str | None]]:
    """``records`` in the same order, each with its body's HTML (None for all but comments).

    ``workers`` processes render once the stream has outlasted ``INLINE_CHUNKS`` chunks;
    with none, everything renders here. At most ``2 * workers + 1`` chunks are in
    flight, so memory stays bounded whatever the size of the import. An exception from
    the reader (a malformed file) ends the stream; the import then fails as a whole.
    """
    chunks = _chunks(records, CHUNK_SIZE)
    for chunk in itertools.islice(chunks, INLINE_CHUNKS) if workers else chunks:
        yield from _attach(chunk, _render_all(_bodies(chunk)))
    following = next(chunks, None)
    if following is None:
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context()) as pool:
        in_flight: deque[tuple[list[ImportRecord], Future[list[str]]]] = deque()
        try:
            for chunk in itertools.chain([following], chunks):
                in_flight.append((chunk, pool.submit(_render_all, _bodies(chunk))))
                if len(in_flight) > 2 * workers:
                    done, future = in_flight.popleft()
                    yield from _attach(done, future.result())
            while in_flight:
                done, future = in_flight.popleft()
                yield from _attach(done, future.result())
        finally:
            for _, future in in_flight:
                future.cancel()


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a clean server process that has the sanitiser loaded.

    A plain fork would copy the importing process's open database connections and
    whatever else it holds; "spawn" would import the application again for every pool.
    The fork server starts once per process and is reused by later imports.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _chunks(records: Iterable[ImportRecord], size: int) -> Iterator[list[ImportRecord]]:
    chunk: list[ImportRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _bodies(chunk: list[ImportRecord]) -> list[tuple[str, BodyFormat]]:
    """The (body, format) of each comment in ``chunk``: all a worker needs to render it."""
    return [(record.body, record.body_format) for record in chunk if isinstance(record, ImportedComment)]


def _render_all(work: list[tuple[str, BodyFormat]]) -> list[str]:
    """The HTML of each (body, format), in order (in a worker, or here)."""
    return [body_html(body, body_format) for body, body_format in work]


def _attach(chunk: list[ImportRecord], rendered: list[str]) -> Iterator[tuple[ImportRecord, str | None]]:
    bodies = iter(rendered)
    for record in chunk:
        yield record, next(bodies) if isinstance(record, ImportedComment) else None
