"""HTTP caching for public GETs: validators from article versions, short shared caching.

Every change a public read can show bumps its article's ``version`` in the same
transaction (``services.articles.touch_article``), so an ETag built from the versions a
response depends on changes exactly when the response may change. A matching
If-None-Match answers 304 after one indexed query, before any heavy work.

Validators (and so the rendered-response cache) are keyed on the arguments the route
parsed from its query schema, never on the raw query string: unknown parameters are
dropped by the schemas, so ``?junk=N`` cannot mint new validators or cache entries.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, request

from engagement.api.common import READER_TOKEN_HEADER, current_reader, reads, settings, view_counter
from engagement.clock import utcnow
from engagement.services import hot_views
from engagement.services.articles import ArticleRow, article_versions, thread_state

PUBLIC_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"
# Responses that include the reader's own state ("mine", "my_vote") stay in the browser.
PRIVATE_CACHE_CONTROL = "private, max-age=0, must-revalidate"


class NotModified(Exception):
    """The client's cached copy is current: answer 304 with the validator."""

    def __init__(self, headers: dict[str, str]):
        super().__init__("not modified")
        self.headers = headers


def _etag(parts: list[object]) -> str:
    # orjson writes the parts (strings, numbers, tuples, enums, dataclasses; anything else
    # by its repr) several times faster than repr(): a counts validator covers 100 entries.
    digest = hashlib.blake2b(orjson.dumps(parts, default=repr), digest_size=12).hexdigest()
    return f'"{digest}"'


Query = Mapping[str, Any]


def canonical_query(query: Query | None) -> tuple[tuple[str, Any], ...]:
    """The parsed query arguments in a canonical order (by name), as one value."""
    return tuple(sorted(query.items())) if query else ()


def validate(versions: Iterable[object], *, query: Query | None = None, per_reader: bool = False) -> dict[str, str]:
    """Headers for a response built from data at ``versions``; raises NotModified on a match.

    The request path and the parsed ``query`` (what the route's query schema returned)
    are part of the validator, so pages, sorts and key lists never share one, while
    parameters no schema knows change nothing; ``per_reader`` adds the reader's identity
    and makes the response private.
    """
    parts: list[object] = [request.path, canonical_query(query), *versions]
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


def validate_articles(
    keys: Iterable[str], *, query: Query | None = None, per_reader: bool = False
) -> dict[str, str]:
    """``validate`` for a response built from these articles (missing ones included).

    With REDIS_URL, the views part includes views not yet flushed, so a view changes
    the validator at once.
    """
    counter = view_counter()
    if counter is None:
        versions = article_versions(reads(), sorted(set(keys)))
    else:
        versions = hot_views.article_versions(reads(), counter, sorted(set(keys)))
    return validate(sorted(versions.items()), query=query, per_reader=per_reader)


def validate_result(result: object, query: Query | None = None) -> dict[str, str]:
    """``validate`` from the result itself, for responses no article version covers (trending)."""
    return validate([result], query=query)


def validated_on_body(body: bytes, query: Query | None = None) -> Response:
    """A public JSON answer whose validator is a digest of its ``body``; raises NotModified on a match.

    For answers that nearly every request asks of different data (counts: any list of
    keys is an answer of its own), written faster than a validator could be derived from
    their data and a stored body looked up: they are written every time, and nothing is
    kept for the next request.
    """
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Response(body, status=200, mimetype="application/json", headers=validate([digest], query=query))


def validate_thread(article: ArticleRow | None, query: Query | None = None) -> dict[str, str]:
    """``validate`` for a thread page, from its article's row (``find_article_row``; None
    when nobody has touched it): the article's version and whether it is closed now.

    Views are left out (a thread page does not show them), so counted views do not
    invalidate thread pages; closing by age is in, since it depends on the time. The
    page is built from the same row, so the validator names exactly what the body shows.
    """
    state = thread_state(article, settings(), utcnow())
    return validate([*state] if state is not None else [None], query=query)


class RenderedResponses:
    """A per-worker LRU of rendered public response bodies, keyed by their ETag.

    An ETag names the exact data a body was built from (path, parsed query, article
    versions), so a stored body is served only while nothing it shows has changed; no
    expiry or invalidation is needed. Bounded in entries, in bytes per body and in total
    body bytes; the least recently used go first.
    """

    def __init__(self, max_entries: int = 512, max_body_bytes: int = 256 * 1024, max_total_bytes: int = 16 * 2**20):
        self.max_entries = max_entries
        self.max_body_bytes = min(max_body_bytes, max_total_bytes)
        self.max_total_bytes = max_total_bytes
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._total_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._bodies)

    @property
    def total_bytes(self) -> int:
        return self._total_bytes

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(etag)
            if body is not None:
                self._bodies.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes) -> None:
        if len(body) > self.max_body_bytes or self.max_entries < 1:
            return
        with self._lock:
            replaced = self._bodies.pop(etag, None)
            if replaced is not None:
                self._total_bytes -= len(replaced)
            self._bodies[etag] = body
            self._total_bytes += len(body)
            while len(self._bodies) > self.max_entries or self._total_bytes > self.max_total_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._total_bytes -= len(evicted)


# The rendered thread pages. Counts answers are not kept (``validated_on_body``): any
# list of keys makes one, and a client sending endless new lists must not push every
# thread page out of the cache.
THREAD_PAGES = "engagement.rendered"


def rendered(headers: dict[str, str]) -> Response | None:
    """The stored thread page for this validator as a response, or None (and it is stored after).

    Only for public responses: a per-reader validator is never shared.
    """
    etag = headers["ETag"]
    cache: RenderedResponses = current_app.extensions[THREAD_PAGES]
    body = cache.get(etag)
    if body is None:
        g.render_into_cache = (cache, etag)
        return None
    return Response(body, status=200, mimetype="application/json", headers=headers)


def _store_rendered(response: Response) -> Response:
    pending: tuple[RenderedResponses, str] | None = g.pop("render_into_cache", None)
    if pending is not None:
        cache, etag = pending
        if response.status_code == 200 and response.headers.get("ETag") == etag:
            cache.put(etag, response.get_data())
    return response


def _not_modified(error: NotModified) -> Response:
    response = Response(status=304)
    response.headers.update(error.headers)
    return response


def install_caching(app: Flask) -> None:
    app.extensions[THREAD_PAGES] = RenderedResponses(
        max_entries=app.config["RENDERED_CACHE_ENTRIES"], max_total_bytes=app.config["RENDERED_CACHE_BYTES"]
    )
    app.register_error_handler(NotModified, _not_modified)
    app.after_request(_store_rendered)
