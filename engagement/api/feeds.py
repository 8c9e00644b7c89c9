"""Atom feeds of published comments: one article's, and the whole site's."""
from __future__ import annotations

from flask import Response, request

from engagement import atom
from engagement.api import caching
from engagement.api.common import EngagementBlueprint, reads, settings
from engagement.extensions import db
from engagement.services.articles import find_article_row
from engagement.services.feeds import latest_published

blp = EngagementBlueprint("feeds", __name__, url_prefix="/api/v1", description="Atom feeds of published comments")

ATOM_TYPE = "application/atom+xml"
FEED_DESCRIPTION = "An Atom 1.0 feed of the 50 newest published comments, newest first."
ATOM_CONTENT = {
    "responses": {"200": {"description": FEED_DESCRIPTION, "content": {ATOM_TYPE: {"schema": {"type": "string"}}}}}
}


def _feed_response(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, status=200, mimetype=ATOM_TYPE, headers=headers)


def _entry_id_prefix() -> str:
    return f"{request.host_url}api/v1/comments/"


@blp.route("/articles/<article_key:key>/comments.atom", methods=["GET"])
@blp.response(200, description=FEED_DESCRIPTION, content_type=ATOM_TYPE)
@blp.alt_response(304, description="Not modified: the `If-None-Match` ETag is current")
@blp.doc(**ATOM_CONTENT)
def article_feed(key: str) -> Response:
    """An article's published comments (replies included) as an Atom feed, with an ETag."""
    headers = caching.validate_thread(find_article_row(reads(), key))
    entries = latest_published(db.session, article_key=key)
    site_url = entries[0].article_url if entries else None
    title = entries[0].article_title if entries and entries[0].article_title else key
    body = atom.comments_feed(
        feed_id=request.base_url, title=f"Comments on {title}", self_url=request.base_url, site_url=site_url,
        entries=entries, anonymous_name=settings().anonymous_name, entry_id_prefix=_entry_id_prefix(),
    )
    return _feed_response(body, headers)


@blp.route("/comments.atom", methods=["GET"])
@blp.response(200, description=FEED_DESCRIPTION, content_type=ATOM_TYPE)
@blp.alt_response(304, description="Not modified: the `If-None-Match` ETag is current")
@blp.doc(**ATOM_CONTENT)
def site_feed() -> Response:
    """The whole site's latest published comments as an Atom feed, with an ETag."""
    entries = latest_published(db.session)
    # No one version covers every article: the entries themselves (and what they show) are the validator.
    headers = caching.validate_result(entries)
    body = atom.comments_feed(
        feed_id=request.base_url, title="Latest comments", self_url=request.base_url, site_url=None,
        entries=entries, anonymous_name=settings().anonymous_name, entry_id_prefix=_entry_id_prefix(),
    )
    return _feed_response(body, headers)
