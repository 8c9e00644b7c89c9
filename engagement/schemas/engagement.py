"""Views, reactions, votes, counts and trending: request and response shapes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from marshmallow import Schema, ValidationError, fields, post_dump, utils, validate

from engagement.schemas.common import (
    ARTICLE_KEY,
    OptionalHttpUrl,
    OptionalText,
    RepeatableQuerySchema,
    article_key_validator,
)
from engagement.services.trending import TrendingWindow

MAX_COUNTS_KEYS = 100
MAX_TRENDING_LIMIT = 50


def _reaction_counts(**kwargs: Any) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Count per configured reaction kind (zeros included)."},
        **kwargs,
    )


class ArticleSummarySchema(Schema):
    key = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    views = fields.Integer(required=True)
    comment_count = fields.Integer(required=True, metadata={"description": "Visible comments, replies included."})
    reactions = _reaction_counts(required=True)
    comments_closed = fields.Boolean(required=True)


class ViewBeaconSchema(Schema):
    """The page may name its article when it sends the beacon (accepted from the site's own origins)."""

    url = OptionalHttpUrl(metadata={"description": "The page's canonical URL; its origin must be a configured site origin and the request's Origin."})
    title = OptionalText(max_length=300, metadata={"description": "The article's title (plain text)."})


class ViewCountSchema(Schema):
    views = fields.Integer(
        required=True, metadata={"description": "The article's views, this one included if it counted."}
    )


class ReactionStateSchema(Schema):
    counts = _reaction_counts(required=True)
    mine = fields.List(fields.String(), required=True, metadata={"description": "The kinds this reader chose."})


class VoteSchema(Schema):
    value = fields.Integer(
        required=True,
        strict=True,
        validate=validate.OneOf([1, -1, 0]),
        metadata={"description": "1 up, -1 down, 0 withdraws your vote."},
    )


class VoteStateSchema(Schema):
    score = fields.Integer(required=True)
    upvotes = fields.Integer(required=True)
    downvotes = fields.Integer(required=True)
    my_vote = fields.Integer(required=True, validate=validate.OneOf([1, -1, 0]))


class ArticleKeyList(fields.List):
    """A list of article keys, each checked against one compiled pattern.

    A listing page asks for up to 100 keys on every load, and a String field per key
    (deserialise, then the Regexp validator) cost more than reading their counts. The
    inner String field stays for the OpenAPI document; errors keep List's shape
    ({index: [problem]}).
    """

    KEY = ARTICLE_KEY
    PROBLEM = "Not a valid article key."

    def __init__(self, **kwargs: Any):
        super().__init__(fields.String(validate=article_key_validator(self.PROBLEM)), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not utils.is_collection(value):
            raise self.make_error("invalid")
        problems = {index: [self.PROBLEM] for index, key in enumerate(value)
                    if not (isinstance(key, str) and self.KEY.fullmatch(key))}
        if problems:
            raise ValidationError(problems)  # type: ignore[arg-type]
        return list(value)


class CountsQuerySchema(RepeatableQuerySchema):
    articles = ArticleKeyList(
        required=True,
        validate=validate.Length(min=1, max=MAX_COUNTS_KEYS),
        metadata={"description": f"Article keys (repeat the parameter), 1 to {MAX_COUNTS_KEYS}."},
    )


class ArticleCountsSchema(Schema):
    views = fields.Integer(required=True)
    comments = fields.Integer(required=True, metadata={"description": "Visible comments, replies included."})
    reactions = _reaction_counts(required=True)


class CountsSchema(Schema):
    """{article key: {"views", "comments", "reactions"}} for every requested key."""

    class Meta:
        unknown = "include"  # documented as additionalProperties: the keys are the article keys

    @post_dump(pass_original=True)
    def _per_article(self, _data: dict[str, Any], original: dict[str, Any], **_: Any) -> dict[str, Any]:
        # ArticleCountsSchema's shape, built directly: up to 100 entries per listing page, and
        # a per-entry dump cost more than the query (tests/api/test_counts_trending.py checks
        # the two agree).
        return {key: article_counts_document(counts) for key, counts in original.items()}


def article_counts_document(counts: Any) -> dict[str, Any]:
    """What ``ArticleCountsSchema().dump(counts)`` gives, for the values the service returns."""
    return {"views": counts.views, "comments": counts.comments, "reactions": dict(counts.reactions)}


def counts_json(counts: Mapping[str, Any]) -> bytes:
    """What ``CountsSchema().dump(counts)`` gives, written as the API's JSON (a trailing
    new line, as every answer), for the entries the service returns.

    orjson writes each entry itself: an entry is a dataclass whose fields are
    ArticleCountsSchema's, in its order, so no per-entry document is built; written
    straight from the query's rows, a counts answer costs less than a validator derived
    from them did (tests/api/test_counts_trending.py checks the two agree).
    """
    return orjson.dumps(counts) + b"\n"


class TrendingQuerySchema(RepeatableQuerySchema):
    window = fields.Enum(TrendingWindow, by_value=True, load_default=TrendingWindow.DAY)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_TRENDING_LIMIT))


class TrendingArticleSchema(Schema):
    key = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    url = fields.String(allow_none=True, required=True)
    score = fields.Float(required=True, metadata={"description": "Decayed, weighted engagement in the window."})
    views = fields.Integer(required=True, metadata={"description": "All-time views."})
    comments = fields.Integer(required=True, metadata={"description": "Visible comments now."})
    reactions = _reaction_counts(required=True)


class TrendingSchema(Schema):
    articles = fields.List(fields.Nested(TrendingArticleSchema), required=True)
