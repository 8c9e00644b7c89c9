"""Comment requests and the public comment shape."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from engagement.schemas.common import (
    Id,
    OptionalEmail,
    OptionalHttpUrl,
    OptionalText,
    RepeatableQuerySchema,
    SafeString,
    Timestamp,
    iso_timestamp,
)
from engagement.models import CommentStatus, Editor
from engagement.text import strip_ignorables
from engagement.services.comments import Draft, Sort

BODY_MAX_LENGTH = 10_000


class BodyMixin(Schema):
    body = SafeString(required=True, validate=validate.Length(min=1, max=BODY_MAX_LENGTH))

    @validates("body")
    def _not_blank(self, value: str, **_: Any) -> None:
        # Invisible characters (zero-width, tag characters, Hangul fillers) are blank too.
        if not strip_ignorables(value).strip():
            raise ValidationError("The comment is empty.")


class CommentCreateSchema(BodyMixin):
    author_name = OptionalText(max_length=80)
    author_email = OptionalEmail()
    author_url = OptionalHttpUrl()
    parent_id = Id(allow_none=True)
    website = fields.String(allow_none=True, metadata={"description": "Honeypot: leave empty."})
    notify = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Mail author_email when a reply to this comment is published, once the address is "
            "confirmed (a confirmation mail is sent first). Needs author_email; refused (422) where the thread's "
            "article.reply_notifications is false."
        },
    )

    @validates_schema
    def _notify_needs_an_address(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("notify") and not data.get("author_email"):
            raise ValidationError("Reply e-mails need an e-mail address.", "notify")

    @post_load
    def _to_draft(self, data: dict[str, Any], **_: Any) -> Draft:
        return Draft(
            body=data["body"],
            author_name=data.get("author_name"),
            author_email=data.get("author_email"),
            author_url=data.get("author_url"),
            parent_id=data.get("parent_id"),
            honeypot=(data.get("website") or "").strip() or None,
            notify=data["notify"],
        )


class CommentEditSchema(BodyMixin):
    pass


class ThreadQuerySchema(RepeatableQuerySchema):
    sort = fields.Enum(Sort, by_value=True, load_default=Sort.OLDEST)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))
    around = Id(
        metadata={
            "description": "A comment id: answer the page (as walking the cursors from the first page "
            "reaches it) that holds this comment's thread. Not with cursor."
        }
    )

    @validates_schema
    def _one_starting_point(self, data: dict[str, Any], **_: Any) -> None:
        if "around" in data and "cursor" in data:
            raise ValidationError("Give either around or cursor, not both.", "around")


class AuthorSchema(Schema):
    name = fields.String(required=True)
    url = fields.String(allow_none=True)
    avatar = fields.String(
        required=True,
        metadata={"description": "Identicon seed (keyed hash), or the https URL of a signed-in author's avatar"},
    )
    verified = fields.Boolean(
        required=True,
        metadata={"description": "Posted by a reader signed in with the site's own account: the name is the site's."},
    )


class PublicCommentSchema(Schema):
    """A comment as anyone may see it: never an email, address, hash or token."""

    id = fields.Integer(attribute="comment.id", required=True)
    article = fields.String(attribute="article_key", required=True)
    parent_id = fields.Integer(attribute="comment.parent_id", allow_none=True)
    author = fields.Nested(AuthorSchema, allow_none=True)
    body_html = fields.String(required=True)
    status = fields.String(
        attribute="public_status",
        required=True,
        validate=validate.OneOf([status.value for status in CommentStatus]),
    )
    created_at = Timestamp(attribute="comment.created_at", required=True)
    edited_at = Timestamp(attribute="comment.edited_at", allow_none=True)
    edited_by = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf([editor.value for editor in Editor]),
        metadata={"description": "Who wrote the current text when it was edited (null: never edited)."},
    )
    score = fields.Integer(attribute="comment.score", required=True)
    upvotes = fields.Integer(attribute="comment.upvotes", required=True)
    downvotes = fields.Integer(attribute="comment.downvotes", required=True)
    pinned = fields.Boolean(attribute="comment.pinned", required=True)
    deleted = fields.Boolean(required=True)
    reply_count = fields.Integer(attribute="comment.reply_count", required=True)
    replies = fields.List(fields.Nested(lambda: PublicCommentSchema()), required=True)


def public_comment_document(node: Any) -> dict[str, Any]:
    """What ``PublicCommentSchema().dump(node)`` gives for a ``ThreadNode``, replies included.

    A thread page holds up to a hundred comments with their replies, and a per-field
    dump of each cost several times the queries that read them; tests/api/test_threads.py
    checks that the two agree on every kind of node.
    """
    comment = node.comment
    return {
        "id": comment.id,
        "article": node.article_key,
        "parent_id": comment.parent_id,
        "author": node.author,  # a new dict of AuthorSchema's fields (``comments.author_of``), or None
        "body_html": node.body_html,
        "status": node.public_status,
        "created_at": iso_timestamp(comment.created_at),
        "edited_at": iso_timestamp(comment.edited_at),
        "edited_by": node.edited_by,
        "score": comment.score,
        "upvotes": comment.upvotes,
        "downvotes": comment.downvotes,
        "pinned": bool(comment.pinned),
        "deleted": node.deleted,
        "reply_count": comment.reply_count,
        "replies": [public_comment_document(reply) for reply in node.replies] if node.replies else [],
    }


class PublicCommentList(fields.List):
    """A list of public comments, documented as ``PublicCommentSchema`` and written by
    ``public_comment_document``."""

    def __init__(self, **kwargs: Any):
        super().__init__(fields.Nested(PublicCommentSchema), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        return [public_comment_document(node) for node in value]


class PostedCommentSchema(PublicCommentSchema):
    edit_token = fields.String(required=True, metadata={"description": "Shown once: keep it to edit or delete."})

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        # Every posted comment is answered with this document, written directly: a per-field
        # dump of its seventeen fields costs five times as much (about 50 µs against 10);
        # tests/api/test_comments.py checks that the two agree.
        if many or (many is None and self.many) or self.only or self.exclude:
            return super().dump(obj, many=many)
        return {**public_comment_document(obj), "edit_token": obj.edit_token}


class ThreadArticleSchema(Schema):
    key = fields.String(required=True)
    comment_count = fields.Integer(required=True)
    comments_closed = fields.Boolean(required=True)
    premoderated = fields.Boolean(
        required=True, metadata={"description": "Whether new comments wait for a moderator before they appear."}
    )
    sign_in_required = fields.Boolean(
        required=True,
        metadata={"description": "Whether posting, voting, reacting and flagging need a reader signed in "
                                 "with the site's account (ENGAGEMENT_SSO_REQUIRED)."},
    )
    reply_notifications = fields.Boolean(
        required=True,
        metadata={"description": "Whether readers may ask to be mailed about replies (notify when posting): mail is configured."},
    )


class ThreadPageSchema(Schema):
    article = fields.Nested(ThreadArticleSchema, required=True)
    comments = PublicCommentList(required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    has_earlier = fields.Boolean(
        required=True,
        metadata={"description": "Whether the thread has top-level comments before this page (a cursor's or around's page)."},
    )


class RevisionSchema(Schema):
    """A replaced version of a comment's body, and the edit that replaced it."""

    revision = fields.Integer(required=True, metadata={"description": "1 for the text as posted."})
    body_html = fields.String(required=True)
    body_source = fields.String(required=True)
    edited_at = Timestamp(required=True, metadata={"description": "When this version was written."})
    editor = fields.Enum(
        Editor, by_value=True, required=True, metadata={"description": "Who replaced this version."}
    )
    actor = fields.String(allow_none=True, required=True, metadata={"description": "The moderator's token name."})
    replaced_at = Timestamp(required=True, metadata={"description": "When this version was replaced."})


class RevisionListSchema(Schema):
    revisions = fields.List(fields.Nested(RevisionSchema), required=True)
