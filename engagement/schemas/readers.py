"""Reader identity and operations shapes: tokens, sign-in, the reader's own data."""
from marshmallow import Schema, fields, validate

from engagement.schemas.comments import PublicCommentSchema
from engagement.schemas.common import Timestamp
from engagement.services.readers import ReaderKind
from engagement.services.sso import MAX_TOKEN_LENGTH


class ReaderTokenSchema(Schema):
    reader_token = fields.String(required=True)


class EmptySchema(Schema):
    """A body that must be absent or an empty JSON object."""


class SignInSchema(Schema):
    token = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_TOKEN_LENGTH),
        metadata={"description": "The JWT the site's server signed for its logged-in reader."},
    )


class MeSchema(Schema):
    """Who the service takes the reader to be; never a hash."""

    kind = fields.Enum(
        ReaderKind, by_value=True, required=True,
        metadata={"description": "`account`: signed in with the site's account; `token`: an anonymous reader "
                                 "token; `address`: no token (known by a keyed hash of address and browser)."},
    )
    verified = fields.Boolean(required=True)
    name = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True, metadata={"description": "Shown to the reader only."})
    url = fields.String(allow_none=True, required=True)
    avatar = fields.String(allow_none=True, required=True)
    signed_in_at = Timestamp(allow_none=True, required=True)


class SignedInSchema(ReaderTokenSchema):
    expires_at = Timestamp(required=True, metadata={"description": "When the reader token stops verifying (401)."})
    me = fields.Nested(MeSchema, required=True)


class OwnCommentSchema(PublicCommentSchema):
    """One of the reader's own comments, in any status (spam shows as pending), as typed."""

    body_source = fields.String(required=True, metadata={"description": "The Markdown as typed (plain text)."})
    author_email = fields.String(allow_none=True, required=True)


class OwnCommentsQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))


class OwnCommentPageSchema(Schema):
    comments = fields.List(fields.Nested(OwnCommentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ErasureSchema(Schema):
    """What an erasure took back, by kind."""

    comments = fields.Integer(required=True, metadata={"description": "Comments now empty deleted placeholders."})
    revisions = fields.Integer(required=True, metadata={"description": "Earlier versions of their text."})
    votes = fields.Integer(required=True)
    reactions = fields.Integer(required=True)
    flags = fields.Integer(required=True)
    view_marks = fields.Integer(required=True, metadata={"description": "Marks that kept a view from counting twice."})
    accounts = fields.Integer(required=True, metadata={"description": "Stored profiles of the site's accounts."})
