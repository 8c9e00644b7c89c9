"""HTTP caching for public GETs: validators from article versions, short shared caching.

Every change a public read can show bumps its article's ``version`` in the same
transaction (``services.articles.touch_article``), so an ETag built from the versions a
response depends on changes exactly when the response may change. A matching
If-None-Match answers 304 after one indexed query, before any heavy work.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from flask import Flask, Response, request

from engagement.api.common import READER_TOKEN_HEADER, current_reader
from engagement.extensions import db
from engagement.services.articles import article_versions

PUBLIC_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"
# Responses that include the reader's own state ("mine", "my_vote") stay in the browser.
PRIVATE_CACHE_CONTROL = "private, max-age=0, must-revalidate"


class NotModified(Exception):
    """The client's cached copy is current: answer 304 with the validator."""

    def __init__(self, headers: dict[str, str]):
        super().__init__("not modified")
        self.headers = headers


def _etag(parts: Iterable[object]) -> str:
    digest = hashlib.blake2b(repr(tuple(parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def validate(versions: Iterable[object], *, per_reader: bool = False) -> dict[str, str]:
    """Headers for a response built from data at ``versions``; raises NotModified on a match.

    The request path and query string are part of the validator, so pages, sorts and
    key lists never share one; ``per_reader`` adds the reader's identity and makes the
    response private.
    """
    parts: list[object] = [request.path, request.query_string, *versions]
    if per_reader:
        parts.append(current_reader().key)
    headers = {
        "ETag": _etag(parts),
        "Cache-Control": PRIVATE_CACHE_CONTROL if per_reader else PUBLIC_CACHE_CONTROL,
    }
    if per_reader:
        headers["Vary"] = READER_TOKEN_HEADER
    if request.if_none_match.contains_weak(headers["ETag"].strip('"')):
        raise NotModified(headers)
    return headers


def validate_articles(keys: Iterable[str], *, per_reader: bool = False) -> dict[str, str]:
    """``validate`` for a response built from these articles (missing ones included)."""
    versions = article_versions(db.session, sorted(set(keys)))
    return validate(sorted(versions.items()), per_reader=per_reader)


def validate_result(result: object) -> dict[str, str]:
    """``validate`` from the result itself, for responses no article version covers (trending)."""
    return validate([result])


def _not_modified(error: NotModified) -> Response:
    response = Response(status=304)
    response.headers.update(error.headers)
    return response


def install_caching(app: Flask) -> None:
    app.register_error_handler(NotModified, _not_modified)
