"""engagement's own export (schemas.exchange, version 1), written as a stream of JSON text."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import NotFound
from engagement.models import Article, Comment, ReactionTotal
from engagement.schemas.exchange import FORMAT_NAME, FORMAT_VERSION, OWN_FORMAT_SOURCE, moment_text
from engagement.services.statements import run

ARTICLE_PAGE = 100
COMMENT_PAGE = 1000

_ARTICLES = Article.__table__
_COMMENTS = Comment.__table__
_TOTALS = ReactionTotal.__table__


def export_document(session: Session, *, article_key: str | None = None) -> Iterator[bytes]:
    """The export, in pieces: every article (or only ``article_key``) with its comments.

    Read in pages by id, so memory stays flat however large the site. Views still in
    Redis are not included (run `engagement flush-views` first). Raises NotFound for an
    unknown ``article_key``, before anything is written.
    """
    only = None
    if article_key is not None:
        only = run(session, sa.select(_ARTICLES.c.id).where(_ARTICLES.c.key == article_key)).scalar()
        if only is None:
            raise NotFound(f"No article with the key {article_key!r}.")
    yield b'{"format":"%s","version":%d,"articles":[' % (FORMAT_NAME.encode(), FORMAT_VERSION)
    first = True
    for article, reactions in _articles(session, only):
        head = orjson.dumps(_article_document(article, reactions))
        yield (b"" if first else b",") + head[:-1] + b',"comments":['
        first = False
        yield from _comments(session, article.id)
        yield b"]}"
    yield b"]}\n"


def _articles(session: Session, only: int | None) -> Iterator[tuple[Any, dict[str, int]]]:
    after = 0
    while True:
        query = sa.select(_ARTICLES).where(_ARTICLES.c.id > after).order_by(_ARTICLES.c.id).limit(ARTICLE_PAGE)
        if only is not None:
            query = query.where(_ARTICLES.c.id == only)
        page = run(session, query).all()
        if not page:
            return
        totals: dict[int, dict[str, int]] = {row.id: {} for row in page}
        for article_id, kind, count in run(session, sa.select(_TOTALS.c.article_id, _TOTALS.c.kind, _TOTALS.c.count)
                                           .where(_TOTALS.c.article_id.in_(list(totals)), _TOTALS.c.count > 0)
                                           .order_by(_TOTALS.c.article_id, _TOTALS.c.kind)):
            totals[article_id][kind] = count
        for row in page:
            yield row, totals[row.id]
        after = page[-1].id


def _comments(session: Session, article_id: int) -> Iterator[bytes]:
    after, first = 0, True
    while True:
        page = run(session, sa.select(_COMMENTS).where(_COMMENTS.c.article_id == article_id, _COMMENTS.c.id > after)
                   .order_by(_COMMENTS.c.id).limit(COMMENT_PAGE)).all()
        if not page:
            return
        for row in page:
            yield (b"" if first else b",") + orjson.dumps(_comment_document(row))
            first = False
        after = page[-1].id


def _article_document(row: Any, reactions: dict[str, int]) -> dict[str, Any]:
    return {
        "key": row.key,
        "title": row.title,
        "url": row.url,
        "created_at": moment_text(row.created_at),
        "closed": row.comments_closed,
        "moderation": row.moderation.value if row.moderation else None,
        "views": row.views,
        "reactions": reactions,
    }


def _comment_document(row: Any) -> dict[str, Any]:
    source = None
    # A comment restored from an export under the id it had there says nothing new.
    if row.import_source is not None and (row.import_source, row.import_id) != (OWN_FORMAT_SOURCE, str(row.id)):
        source = {"name": row.import_source, "id": row.import_id}
    return {
        "id": row.id,
        "parent": row.parent_id,
        "created_at": moment_text(row.created_at),
        "edited_at": moment_text(row.edited_at),
        "purged_at": moment_text(row.purged_at),
        "author": {
            "name": row.author_name, "email": row.author_email, "url": row.author_url,
            "verified": row.verified, "avatar": row.avatar_url,
        },
        "body_source": row.body_source,
        "body_format": row.body_format.value,
        "body_html": row.body_html,
        "status": row.status.value,
        "moderation_reason": row.moderation_reason,
        "pinned": row.pinned,
        "score": row.score,
        "upvotes": row.upvotes,
        "downvotes": row.downvotes,
        "source": source,
    }
