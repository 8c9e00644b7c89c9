"""Public comment endpoints: thin adapters between HTTP and the comment service."""
from __future__ import annotations

from typing import Any

from flask import Response

from engagement import metrics
from engagement.api import caching
from engagement.api.common import (
    EngagementBlueprint,
    edit_token,
    keyring,
    now,
    participant,
    reads,
    settings,
    transactional,
)
from engagement.api.ratelimits import limit
from engagement.extensions import db
from engagement.schemas.comments import (
    CommentCreateSchema,
    CommentEditSchema,
    PostedCommentSchema,
    PublicCommentSchema,
    ThreadPageSchema,
    ThreadQuerySchema,
)
from engagement.schemas.common import ErrorSchema
from engagement.services import comments as service
from engagement.services.articles import find_article_row
from engagement.services.comments import Draft, ThreadNode, ThreadPage

blp = EngagementBlueprint("comments", __name__, url_prefix="/api/v1", description="Comment threads")

COMMENT_ID = "<id:comment_id>"


@blp.route("/articles/<article_key:key>/comments", methods=["POST"])
@blp.for_the_reader()
@blp.arguments(CommentCreateSchema())
@blp.response(201, PostedCommentSchema)
@limit("comments")
@transactional
def post_comment(draft: Draft, key: str) -> ThreadNode:
    """Post a comment or a reply. The edit token in the response is shown once."""
    posted = service.post_comment(
        db.session, keyring(), settings(),
        article_key=key, draft=draft, reader=participant(), now=now(),
    )
    metrics.note_outcome(posted.comment.status.value)
    return posted


@blp.route("/articles/<article_key:key>/comments", methods=["GET"])
@blp.arguments(ThreadQuerySchema(), location="query")
@blp.response(200, ThreadPageSchema)
@blp.alt_response(404, schema=ErrorSchema, description="`around` names no comment shown in this thread")
def list_comments(query: dict[str, Any], key: str) -> tuple[ThreadPage, dict[str, str]] | Response:
    """A page of the thread: top-level comments with their replies nested."""
    article = find_article_row(reads(), key)
    cache_headers = caching.validate_thread(article, query)
    stored = caching.rendered(cache_headers)
    if stored is not None:
        return stored
    page = service.list_thread(
        reads(), keyring(), settings(),
        article_key=key, article=article, sort=query["sort"], limit=query["limit"], cursor=query.get("cursor"),
        now=now(), around=query.get("around"),
    )
    return page, cache_headers


@blp.route(f"/comments/{COMMENT_ID}", methods=["PATCH"])
@blp.for_the_author()
@blp.arguments(CommentEditSchema())
@blp.response(200, PublicCommentSchema)
@limit("comments")
@transactional
def edit_comment(body: dict[str, str], comment_id: int) -> ThreadNode:
    """Edit your comment within the edit window (X-Edit-Token header)."""
    return service.edit_comment(
        db.session, keyring(), settings(),
        comment_id=comment_id, edit_token=edit_token(), body=body["body"],
        reader=participant(), now=now(),
    )


@blp.route(f"/comments/{COMMENT_ID}", methods=["DELETE"])
@blp.for_the_author()
@blp.response(204)
@transactional
def delete_comment(comment_id: int) -> None:
    """Delete your comment within the edit window (X-Edit-Token header)."""
    service.delete_comment(
        db.session, settings(), comment_id=comment_id, edit_token=edit_token(), now=now()
    )
