"""Reader identity and operations shapes."""
from marshmallow import Schema, fields


class ReaderTokenSchema(Schema):
    reader_token = fields.String(required=True)


class EmptySchema(Schema):
    """A body that must be absent or an empty JSON object."""
