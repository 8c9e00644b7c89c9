"""Moderation requests and responses: the queue, decisions, articles, bans, blocklist, flags, audit."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from engagement.models import BlocklistAction, CommentStatus, FlagReason, ModerationMode, Role
from engagement.schemas.comments import BODY_MAX_LENGTH, PublicCommentSchema
from engagement.schemas.common import Id, OptionalHttpUrl, OptionalText, SafeString, Timestamp, article_key_validator
from engagement.services.article_index import ArticleOrder
from engagement.services.blocklist import MAX_WORDS, WORD_MAX_LENGTH
from engagement.services.daily_stats import MAX_DAYS
from engagement.services.moderation import BanRequest, Decision, QueueFilter
from engagement.text import clean_plain_text

MODERATOR_STATUSES = [
    CommentStatus.APPROVED.value,
    CommentStatus.REJECTED.value,
    CommentStatus.SPAM.value,
    CommentStatus.PENDING.value,
]
BULK_MAX_IDS = 500
MAX_BAN_HOURS = 87_600  # ten years


class StrictBoolean(fields.Boolean):
    """JSON true or false only (no "yes", "1" or 0)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def ModeratorStatus(**kwargs: Any) -> fields.Enum:
    return fields.Enum(
        CommentStatus,
        by_value=True,
        # The error names the values a client sends, not the Python enum's members.
        validate=validate.OneOf(
            [CommentStatus(v) for v in MODERATOR_STATUSES], error=f"Must be one of: {', '.join(MODERATOR_STATUSES)}."
        ),
        **kwargs,
    )


class PlainText(fields.String):
    """Required plain text, cleaned like names (one line, no control characters); blank is an error."""

    def __init__(self, *, max_length: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = clean_plain_text(super()._deserialize(value, attr, data, **kwargs))
        if not text:
            raise ValidationError("Must not be empty.")
        if len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return text


# --- the queue ----------------------------------------------------------------------------------

class QueueQuerySchema(Schema):
    status = fields.Enum(
        QueueFilter, by_value=True, load_default=QueueFilter.PENDING,
        metadata={
            "description": "`flagged`: comments with open flags, whatever their status; `all`: every status."
        },
    )
    author_of = Id(
        metadata={
            "description": "Only comments by the same author as this comment (same reader identity or email), "
            "that one included; the identities themselves are never shown."
        },
    )
    article = fields.String(validate=article_key_validator())
    q = SafeString(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Case-insensitive text in the body or the author's name."},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))


class FlagNoteSchema(Schema):
    reason = fields.String(required=True)
    note = fields.String(required=True)
    created_at = Timestamp(required=True)


class FlagSummarySchema(Schema):
    open = fields.Integer(required=True, metadata={"description": "Open (undecided) flags."})
    reasons = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True,
        metadata={"description": "Open flags per reason."},
    )
    notes = fields.List(
        fields.Nested(FlagNoteSchema), required=True, metadata={"description": "The latest notes (up to 10)."}
    )


class ParentContextSchema(Schema):
    id = fields.Integer(required=True)
    author_name = fields.String(required=True)
    body_html = fields.String(required=True, metadata={"description": "Sanitised HTML (empty once purged)."})
    status = fields.String(required=True, validate=validate.OneOf([status.value for status in CommentStatus]))


class ModeratorCommentSchema(PublicCommentSchema):
    """A comment with what moderators need: the real body, the email, why it is held, the flags."""

    status = fields.String(
        attribute="comment.status.value",
        required=True,
        validate=validate.OneOf([status.value for status in CommentStatus]),
        metadata={"description": "The stored status (moderators see spam as spam)."},
    )
    author_email = fields.String(attribute="comment.author_email", allow_none=True)
    body_source = fields.String(
        attribute="comment.body_source", required=True,
        metadata={"description": "The Markdown as typed, for a moderator's edit (plain text: never display it as HTML)."},
    )
    moderation_reason = fields.String(
        attribute="comment.moderation_reason", allow_none=True,
        metadata={"description": "Why it was held or decided, e.g. premoderation, blocklist, flagged."},
    )
    purged_at = Timestamp(attribute="comment.purged_at", allow_none=True)
    flags = fields.Nested(FlagSummarySchema, required=True)
    article_title = fields.String(allow_none=True, required=True)
    article_url = fields.String(allow_none=True, required=True)
    parent = fields.Nested(
        ParentContextSchema, allow_none=True, required=True,
        metadata={"description": "The comment a reply answers, for context; null for a top-level comment."},
    )


class QueuePageSchema(Schema):
    comments = fields.List(fields.Nested(ModeratorCommentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


# --- decisions ----------------------------------------------------------------------------------

class DecisionSchema(Schema):
    status = ModeratorStatus()
    pinned = StrictBoolean()
    body = SafeString(validate=validate.Length(min=1, max=BODY_MAX_LENGTH))

    @validates_schema
    def _something_to_do(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of status, pinned or body.")
        body = data.get("body")
        if body is not None and not body.strip():
            raise ValidationError("The comment is empty.", "body")

    @post_load
    def _to_decision(self, data: dict[str, Any], **_: Any) -> Decision:
        return Decision(status=data.get("status"), pinned=data.get("pinned"), body=data.get("body"))


class BulkDecisionSchema(Schema):
    ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=BULK_MAX_IDS))
    status = ModeratorStatus(required=True)


class BulkResultSchema(Schema):
    updated = fields.Integer(required=True, metadata={"description": "Comments that changed."})


# --- articles -----------------------------------------------------------------------------------

class ArticleUpdateSchema(Schema):
    """Any of these; null (or a blank title or url) resets the field."""

    title = OptionalText(max_length=300)
    url = OptionalHttpUrl()
    comments_closed = StrictBoolean()
    moderation = fields.Enum(
        ModerationMode, by_value=True, allow_none=True,
        metadata={"description": "`pre`: hold every comment for approval; null: the site default."},
    )


class ModeratedArticleSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    views = fields.Integer(required=True)
    comment_count = fields.Integer(required=True)
    reactions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    comments_closed = fields.Boolean(required=True)
    moderation = fields.String(required=True, validate=validate.OneOf([mode.value for mode in ModerationMode]))


# --- bans ---------------------------------------------------------------------------------------

class BanCreateSchema(Schema):
    comment_id = Id(required=True)
    reason = PlainText(max_length=500, required=True)
    duration_hours = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=MAX_BAN_HOURS),
        metadata={"description": "Absent or null: permanent."},
    )
    purge_comments = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Also reject every pending and published comment by this author: same reader "
            "identity or same email, never merely the same address. See `GET /bans/preview` for how many, "
            "and `DELETE /bans/{id}?restore_comments=true` to undo."
        },
    )

    @post_load
    def _to_request(self, data: dict[str, Any], **_: Any) -> BanRequest:
        return BanRequest(
            comment_id=data["comment_id"],
            reason=data["reason"],
            duration_hours=data.get("duration_hours"),
            purge_comments=data["purge_comments"],
        )


class BanSchema(Schema):
    id = fields.Integer(required=True)
    comment_id = fields.Integer(allow_none=True)
    reason = fields.String(required=True)
    created_at = Timestamp(required=True)
    expires_at = Timestamp(allow_none=True, required=True, metadata={"description": "null: permanent."})
    actor = fields.String(required=True)


class BanListSchema(Schema):
    bans = fields.List(fields.Nested(BanSchema), required=True)


class BanPreviewQuerySchema(Schema):
    comment_id = Id(required=True, metadata={"description": "The comment whose author would be banned."})


class PurgeCountsSchema(Schema):
    pending = fields.Integer(required=True)
    approved = fields.Integer(required=True)


class BanPreviewSchema(Schema):
    """What a ban with ``purge_comments`` on this comment would reject now (identities are never shown)."""

    comment_id = fields.Integer(required=True)
    purge_comments = fields.Integer(required=True, metadata={"description": "Comments the purge would reject."})
    by_status = fields.Nested(PurgeCountsSchema, required=True)


class BanLiftQuerySchema(Schema):
    restore_comments = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Also restore each comment this ban's purge rejected to its previous status, "
            "unless a moderator has decided on it since."
        },
    )


# --- the blocklist ------------------------------------------------------------------------------

class BlocklistUpdateSchema(Schema):
    words = fields.List(
        PlainText(max_length=WORD_MAX_LENGTH), required=True, validate=validate.Length(max=MAX_WORDS),
        metadata={"description": "Matched as whole words, case-insensitively (NFKC casefolded)."},
    )
    action = fields.Enum(
        BlocklistAction, by_value=True,
        metadata={"description": "hold: publish as pending; reject: refuse with 422. Absent: unchanged."},
    )


class BlocklistSchema(Schema):
    words = fields.List(fields.String(), required=True)
    action = fields.Enum(BlocklistAction, by_value=True, required=True)


# --- flags --------------------------------------------------------------------------------------

class FlagCreateSchema(Schema):
    reason = fields.Enum(FlagReason, by_value=True, required=True)
    note = OptionalText(max_length=500)


class FlagAcceptedSchema(Schema):
    status = fields.String(required=True, metadata={"description": "Always `accepted`."})


# --- audit and stats ----------------------------------------------------------------------------

class AuditQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))
    actor = SafeString(validate=validate.Length(min=1, max=80), metadata={"description": "Only this actor's entries."})
    action = SafeString(validate=validate.Length(min=1, max=64), metadata={"description": "Only this action."})
    target = SafeString(
        validate=validate.Length(min=1, max=200), metadata={"description": "Only this target, e.g. `comment:17`."}
    )


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = Timestamp(required=True)
    actor = fields.String(required=True, metadata={"description": "API token name, or `cli`."})
    action = fields.String(required=True)
    target = fields.String(required=True)
    details = fields.Dict(required=True)


class AuditPageSchema(Schema):
    entries = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CommentsByStatusSchema(Schema):
    pending = fields.Integer(required=True)
    approved = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    spam = fields.Integer(required=True)
    deleted = fields.Integer(required=True)


class StatsSchema(CommentsByStatusSchema):
    flagged = fields.Integer(required=True, metadata={"description": "Comments with open flags."})


class DailyStatsQuerySchema(Schema):
    days = fields.Integer(
        load_default=30, validate=validate.Range(min=1, max=MAX_DAYS),
        metadata={"description": "How many UTC days, today included."},
    )


class DayFiguresSchema(Schema):
    date = fields.Date(attribute="day", required=True, metadata={"description": "The UTC day, YYYY-MM-DD."})
    comments = fields.Nested(
        CommentsByStatusSchema, required=True,
        metadata={"description": "Comments written that day, by their status now."},
    )
    flags = fields.Integer(required=True, metadata={"description": "Flags readers made that day."})
    views = fields.Integer(required=True, metadata={"description": "Counted views that day."})


class DailyStatsSchema(Schema):
    days = fields.List(fields.Nested(DayFiguresSchema), required=True)


# --- the moderator's own token and the index of articles ----------------------------------------

class TokenIdentitySchema(Schema):
    name = fields.String(required=True, metadata={"description": "The token's name (the audit log's actor)."})
    role = fields.Enum(Role, by_value=True, required=True)


class ArticleIndexQuerySchema(Schema):
    q = SafeString(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Case-insensitive text in the key or the title."},
    )
    sort = fields.Enum(ArticleOrder, by_value=True, load_default=ArticleOrder.ACTIVITY)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))


class IndexedArticleSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    comment_count = fields.Integer(required=True)
    pending = fields.Integer(required=True, metadata={"description": "Comments waiting for a decision."})
    open_flags = fields.Integer(required=True, metadata={"description": "Undecided flags on its comments."})
    comments_closed = fields.Boolean(required=True)
    moderation = fields.String(required=True, validate=validate.OneOf([mode.value for mode in ModerationMode]))
    created_at = Timestamp(required=True)
    last_activity_at = Timestamp(required=True)


class ArticleIndexPageSchema(Schema):
    articles = fields.List(fields.Nested(IndexedArticleSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
