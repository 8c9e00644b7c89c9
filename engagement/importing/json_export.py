"""engagement's own JSON export (schemas.exchange) read back: a restore, or a move between databases.

The document is read whole (the standard library has no streaming JSON parser); each
article is then validated and yielded with its comments.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
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


def read_json_export(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    """Threads and comments of an engagement export. Raises ImportFailed."""
    try:
        document = orjson.loads(file.read())
    except orjson.JSONDecodeError as exc:
        raise ImportFailed(f"{name}: not JSON, or cut short: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ImportFailed(f"{name}: not an engagement export (no \"format\": \"{FORMAT_NAME}\")")
    if document.get("version") != FORMAT_VERSION:
        raise ImportFailed(
            f"{name}: export format version {document.get('version')!r} is not supported"
            f" (this version of engagement reads version {FORMAT_VERSION})"
        )
    articles = document.get("articles")
    if not isinstance(articles, list):
        raise ImportFailed(f"{name}: \"articles\" must be a list")
    for index, raw in enumerate(articles):
        where = f"{name}: articles[{index}]"
        article = _load(_ARTICLE, raw, where, exclude=("comments",))
        key = article["key"]
        yield ImportedThread(
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
        comments = raw.get("comments", [])
        if not isinstance(comments, list):
            raise ImportFailed(f"{where} ({key}): \"comments\" must be a list")
        yield from _comments(comments, key, f"{where} ({key})")


def _comments(raw_comments: list[Any], key: str, where: str) -> Iterator[ImportedComment]:
    loaded = [_load(_COMMENT, raw, f"{where}.comments[{index}]") for index, raw in enumerate(raw_comments)]
    # Each comment's lasting identity: its original source, else this export's id.
    identity = {
        comment["id"]: (
            (comment["source"]["name"], comment["source"]["id"])
            if comment["source"] else (OWN_FORMAT_SOURCE, str(comment["id"]))
        )
        for comment in loaded
    }
    for comment in loaded:
        source, source_id = identity[comment["id"]]
        parent = comment["parent"]
        author = comment["author"]
        yield ImportedComment(
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


def _load(schema: Any, raw: Any, where: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ImportFailed(f"{where}: must be an object")
    try:
        return schema.load({name: value for name, value in raw.items() if name not in exclude})
    except ValidationError as exc:
        raise ImportFailed(f"{where}: {exc.messages}") from exc
