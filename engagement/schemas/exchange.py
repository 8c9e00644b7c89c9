"""engagement's export format, version 1: what `engagement export` writes and `import json` reads.

One JSON object: ``{"format": "engagement-export", "version": 1, "articles": [...]}``;
each article carries its comments, oldest id first. docs/importing.md describes every
field. Times are ISO 8601 in UTC with a ``Z`` and full precision, so nothing is lost.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from engagement.models import BodyFormat, CommentStatus, ModerationMode
from engagement.models.base import MAX_ID
from engagement.schemas.common import article_key_validator

FORMAT_NAME = "engagement-export"
FORMAT_VERSION = 1
# Provenance an export leaves out: a comment imported from an export under its own id.
OWN_FORMAT_SOURCE = "json"


def moment_text(value: datetime | None) -> str | None:
    """A moment in UTC, full precision, ``Z`` suffix."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Moment(fields.Field):
    """An ISO 8601 moment; one without a zone is UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return moment_text(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a date and time.")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError("Not a date and time.") from exc
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class ExportedAuthorSchema(Schema):
    name = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)
    url = fields.String(allow_none=True, load_default=None)
    verified = fields.Boolean(load_default=False)
    avatar = fields.String(allow_none=True, load_default=None)


class ExportedSourceSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=16))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ExportedCommentSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # later minor additions are read by older versions as absent

    id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    parent = fields.Integer(allow_none=True, load_default=None, strict=True)
    created_at = Moment(required=True)
    edited_at = Moment(allow_none=True, load_default=None)
    purged_at = Moment(allow_none=True, load_default=None)
    author = fields.Nested(ExportedAuthorSchema, load_default=dict)
    body_source = fields.String(required=True)
    body_format = fields.Enum(BodyFormat, by_value=True, load_default=BodyFormat.MARKDOWN)
    # Written for readers of the file; an import renders the source again instead.
    body_html = fields.String(load_default=None)
    status = fields.Enum(CommentStatus, by_value=True, required=True)
    moderation_reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=200))
    pinned = fields.Boolean(load_default=False)
    score = fields.Integer(load_default=0, strict=True)
    upvotes = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    downvotes = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    source = fields.Nested(ExportedSourceSchema, allow_none=True, load_default=None)


class ExportedArticleSchema(Schema):
    """An article without its comments (they are read one at a time)."""

    class Meta:
        unknown = EXCLUDE

    key = fields.String(required=True, validate=article_key_validator())
    title = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300))
    url = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    created_at = Moment(allow_none=True, load_default=None)
    closed = fields.Boolean(load_default=False)
    moderation = fields.Enum(ModerationMode, by_value=True, allow_none=True, load_default=None)
    views = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    reactions = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=32)),
        values=fields.Integer(strict=True, validate=validate.Range(min=0)),
        load_default=dict,
    )
