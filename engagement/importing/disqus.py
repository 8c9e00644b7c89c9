"""Disqus XML exports: <thread> elements (pages), then <post> elements (comments).

Disqus documents the export as one <disqus> root holding categories, threads (``dsq:id``
attribute, <id> for the site's own identifier, which is often empty, <link>, <title>,
<createdAt>, <isClosed>, <isDeleted>) and posts (``dsq:id``, <message> HTML, <createdAt>,
<isDeleted>, <isSpam>, <author> with <name> and <email>, <thread dsq:id>, <parent dsq:id>).
Posts may name their parent before or after it. <ipAddress> is never read.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element

from engagement.importing.records import (
    ImportedComment,
    ImportedThread,
    ImportFailed,
    ImportRecord,
    clean_author,
    parse_time,
)
from engagement.importing.xml import flag_of, local_name, stream_elements, text_of
from engagement.models import BodyFormat, CommentStatus

SOURCE = "disqus"
DISQUS = "http://disqus.com"
INTERNALS = "http://disqus.com/disqus-internals"
_DSQ_ID = f"{{{INTERNALS}}}id"


def _tag(name: str) -> str:
    return f"{{{DISQUS}}}{name}"


_ID, _LINK, _TITLE, _CREATED_AT = _tag("id"), _tag("link"), _tag("title"), _tag("createdAt")
_IS_CLOSED, _IS_DELETED, _IS_SPAM = _tag("isClosed"), _tag("isDeleted"), _tag("isSpam")
_THREAD, _PARENT, _MESSAGE, _AUTHOR = _tag("thread"), _tag("parent"), _tag("message"), _tag("author")
_NAME, _EMAIL = _tag("name"), _tag("email")


def read_disqus(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    """Threads and comments of a Disqus export, streamed. Raises ImportFailed."""
    posts = 0
    for element in stream_elements(file, name, root=f"{{{DISQUS}}}disqus", depth=1, what="a Disqus export"):
        kind = local_name(element.tag)
        if kind == "thread":
            yield _thread(element, name)
        elif kind == "post":
            posts += 1
            yield _post(element, f"{name}: <post> number {posts}")


def _dsq_id(element: Element, where: str) -> str:
    value = (element.get(_DSQ_ID) or "").strip()
    if not value:
        raise ImportFailed(f"{where}: missing the dsq:id attribute")
    return value


def _thread(element: Element, name: str) -> ImportedThread:
    ref = _dsq_id(element, f"{name}: a <thread>")
    where = f"{name}: <thread dsq:id={ref!r}>"
    created = text_of(element, _CREATED_AT)
    return ImportedThread(
        ref=ref,
        url=text_of(element, _LINK),
        identifier=text_of(element, _ID),
        title=text_of(element, _TITLE),
        created_at=parse_time(created, where) if created else None,
        closed=flag_of(element, _IS_CLOSED),
        deleted=flag_of(element, _IS_DELETED),
    )


def _post(element: Element, where: str) -> ImportedComment:
    source_id = _dsq_id(element, where)
    where = f"{where} (dsq:id={source_id!r})"
    thread = element.find(_THREAD)
    if thread is None:
        raise ImportFailed(f"{where}: no <thread>")
    parent = element.find(_PARENT)
    parent_id = (parent.get(_DSQ_ID) or "").strip() if parent is not None else ""
    if flag_of(element, _IS_DELETED):
        status = CommentStatus.DELETED
    elif flag_of(element, _IS_SPAM):
        status = CommentStatus.SPAM
    else:
        status = CommentStatus.APPROVED
    return ImportedComment(
        source=SOURCE,
        source_id=source_id,
        thread_ref=_dsq_id(thread, f"{where}: its <thread>"),
        parent=(SOURCE, parent_id) if parent_id else None,
        created_at=parse_time(text_of(element, _CREATED_AT), f"{where}: <createdAt>"),
        body=text_of(element, _MESSAGE) or "",
        body_format=BodyFormat.HTML,
        status=status,
        author=clean_author(
            text_of(element, _AUTHOR, _NAME),
            text_of(element, _AUTHOR, _EMAIL),
            text_of(element, _AUTHOR, _LINK),
        ),
    )
