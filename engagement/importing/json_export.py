"""engagement's own JSON export (schemas.exchange) read back: a restore, or a move between databases.

The document is read as a stream of parser events (ijson over the yajl C parser), so
memory holds one comment at a time, not the file: an export of a large site is as big
as its database. The fields come in the order ``engagement export`` writes them:
``format`` and ``version`` before ``articles``, and in each article its own fields
before ``comments``. Each article and each comment is validated by its schema on its own.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson
from marshmallow import ValidationError

from engagement.importing.records import (
    ImportedComment,
    ImportedThread,
    ImportFailed,
    ImportRecord,
    clean_author,
    https_avatar,
)
from engagement.schemas.exchange import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OWN_FORMAT_SOURCE,
    ExportedArticleSchema,
    ExportedCommentSchema,
)

_ARTICLE = ExportedArticleSchema()
_COMMENT = ExportedCommentSchema()
# Deeper than any export goes; a hostile file nesting further is refused, not recursed into.
MAX_NESTING = 32

Events = Iterator[tuple[str, Any]]
Identity = tuple[str, str]


class _Malformed(Exception):
    """The event stream is not one well-formed document (ijson reports most of these itself)."""


def read_json_export(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    """Threads and comments of an engagement export. Raises ImportFailed."""
    events = ijson.basic_parse(file, use_float=True)
    try:
        yield from _document(events, name)
        next(events, None)  # the parser's own check: nothing but white space may follow
    except (ijson.JSONError, _Malformed) as exc:
        raise ImportFailed(f"{name}: not JSON, or cut short: {exc}") from exc


def _document(events: Events, name: str) -> Iterator[ImportRecord]:
    not_an_export = ImportFailed(f"{name}: not an engagement export (no \"format\": \"{FORMAT_NAME}\")")
    if _next(events)[0] != "start_map":
        raise not_an_export
    header: dict[str, Any] = {}
    articles_read = False
    for key in _keys(events):
        if key != "articles" or articles_read:
            header[key] = _value(events, _next(events))
            continue
        _check_header(header, name, not_an_export)
        if _next(events)[0] != "start_array":
            raise ImportFailed(f"{name}: \"articles\" must be a list")
        index = 0
        while (event := _next(events))[0] != "end_array":
            yield from _article(events, event, f"{name}: articles[{index}]")
            index += 1
        articles_read = True
    _check_header(header, name, not_an_export)
    if not articles_read:
        raise ImportFailed(f"{name}: \"articles\" must be a list")


def _check_header(header: dict[str, Any], name: str, not_an_export: ImportFailed) -> None:
    if header.get("format") != FORMAT_NAME:
        raise not_an_export
    if header.get("version") != FORMAT_VERSION:
        raise ImportFailed(
            f"{name}: export format version {header.get('version')!r} is not supported"
            f" (this version of engagement reads version {FORMAT_VERSION})"
        )


def _article(events: Events, first: tuple[str, Any], where: str) -> Iterator[ImportRecord]:
    if first[0] != "start_map":
        raise ImportFailed(f"{where}: must be an object")
    fields: dict[str, Any] = {}
    thread: ImportedThread | None = None
    for key in _keys(events):
        if key != "comments":
            if thread is not None:
                raise ImportFailed(f"{where}: {key!r} comes after \"comments\"; the article's fields come first")
            fields[key] = _value(events, _next(events))
            continue
        if "key" not in fields:
            raise ImportFailed(f"{where}: \"comments\" comes before \"key\"; the article's fields come first")
        thread = _thread(fields, where)
        yield thread
        if _next(events)[0] != "start_array":
            raise ImportFailed(f"{where} ({thread.key}): \"comments\" must be a list")
        yield from _comments(events, thread.ref, f"{where} ({thread.key})")
    if thread is None:  # an article without comments (views and reactions only)
        yield _thread(fields, where)


def _thread(fields: dict[str, Any], where: str) -> ImportedThread:
    article = _load(_ARTICLE, fields, where)
    key = article["key"]
    return ImportedThread(
        ref=key,
        key=key,
        url=article["url"],
        title=article["title"],
        created_at=article["created_at"],
        closed=article["closed"],
        moderation=article["moderation"],
        views=article["views"],
        reactions=article["reactions"],
    )


def _comments(events: Events, key: str, where: str) -> Iterator[ImportedComment]:
    """The article's comments, each once its parent's identity is known.

    A comment names its parent by id in this export; the import needs the parent's
    lasting identity (its original source, else this export's id). Comments come in id
    order, so a parent almost always comes first; a reply that comes before its parent
    (imported from a system that allowed it) waits for it, and one whose parent never
    comes keeps the export id, which finds nothing and leaves it top-level.
    """
    identity: dict[int, Identity] = {}
    waiting: dict[int, list[dict[str, Any]]] = {}  # parent id -> its replies read before it
    index = 0
    while (event := _next(events))[0] != "end_array":
        comment = _load(_COMMENT, _value(events, event), f"{where}.comments[{index}]")
        index += 1
        ready = [comment]
        while ready:
            comment = ready.pop()
            parent = comment["parent"]
            if parent is not None and parent not in identity:
                waiting.setdefault(parent, []).append(comment)
                continue
            identity[comment["id"]] = _identity(comment)
            yield _record(comment, key, identity)
            ready.extend(waiting.pop(comment["id"], ()))
    for orphans in waiting.values():
        for comment in orphans:
            yield _record(comment, key, identity)


def _identity(comment: dict[str, Any]) -> Identity:
    source = comment["source"]
    return (source["name"], source["id"]) if source else (OWN_FORMAT_SOURCE, str(comment["id"]))


def _record(comment: dict[str, Any], key: str, identity: dict[int, Identity]) -> ImportedComment:
    source, source_id = identity.get(comment["id"]) or _identity(comment)
    parent = comment["parent"]
    author = comment["author"]
    return ImportedComment(
        source=source,
        source_id=source_id,
        thread_ref=key,
        parent=None if parent is None else identity.get(parent, (OWN_FORMAT_SOURCE, str(parent))),
        created_at=comment["created_at"],
        edited_at=comment["edited_at"],
        purged_at=comment["purged_at"],
        body=comment["body_source"],
        body_format=comment["body_format"],
        status=comment["status"],
        moderation_reason=comment["moderation_reason"],
        author=dataclasses.replace(
            clean_author(author.get("name"), author.get("email"), author.get("url")),
            verified=bool(author.get("verified")), avatar_url=https_avatar(author.get("avatar")),
        ),
        pinned=comment["pinned"],
        score=comment["score"],
        upvotes=comment["upvotes"],
        downvotes=comment["downvotes"],
        comment_id=comment["id"],
    )


def _load(schema: Any, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ImportFailed(f"{where}: must be an object")
    try:
        return schema.load(raw)
    except ValidationError as exc:
        raise ImportFailed(f"{where}: {exc.messages}") from exc


# --- the event stream ----------------------------------------------------------------

def _next(events: Events) -> tuple[str, Any]:
    event = next(events, None)
    if event is None:
        raise _Malformed("the document ends early")
    return event


def _keys(events: Events) -> Iterator[str]:
    """The keys of the object being read, up to its end (the caller reads each value)."""
    while (event := _next(events))[0] != "end_map":
        yield event[1]


def _value(events: Events, first: tuple[str, Any], depth: int = 0) -> Any:
    """One whole value, ``first`` its first event."""
    kind, value = first
    if depth > MAX_NESTING:
        raise _Malformed(f"values nest deeper than {MAX_NESTING} levels")
    if kind == "start_map":
        return {key: _value(events, _next(events), depth + 1) for key in _keys(events)}
    if kind == "start_array":
        items = []
        while (event := _next(events))[0] != "end_array":
            items.append(_value(events, event, depth + 1))
        return items
    return value
