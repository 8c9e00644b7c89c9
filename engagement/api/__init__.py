"""HTTP layer: blueprints registered on the app and documented in the OpenAPI spec."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from engagement.api import (
    articles, comments, console, feeds, flags, mail_links, moderation, notifications, operations, readers, reference, votes,
    web,
)
from engagement.api.auth import BEARER_SCHEME, SECURITY_SCHEME
from engagement.api.common import READER_SECURITY_SCHEMES, ArticleKeyConverter, IdConverter
from engagement.schemas.engagement import ArticleCountsSchema

API_BLUEPRINTS = (
    readers.blp, comments.blp, articles.blp, votes.blp, flags.blp, moderation.blp, notifications.blp, feeds.blp,
)


def _article_key_parameter(_converter: ArticleKeyConverter) -> dict[str, object]:
    return {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ArticleKeyConverter.pattern}


def _id_parameter(_converter: IdConverter) -> dict[str, object]:
    # Ids are 32-bit on PostgreSQL; others in the path still match, and get 404.
    return {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}


def _document_counts_map(api: Api) -> None:
    """/counts answers a map keyed by article key: describe each value, not an empty object."""
    api.spec.components.schema("ArticleCounts", schema=ArticleCountsSchema)
    api.spec.components.schemas["Counts"]["additionalProperties"] = {"$ref": "#/components/schemas/ArticleCounts"}


def register_api(app: Flask, api: Api) -> None:
    app.url_map.converters["article_key"] = ArticleKeyConverter
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, _id_parameter)
    api.register_converter(ArticleKeyConverter, _article_key_parameter)
    api.spec.components.security_scheme(BEARER_SCHEME, SECURITY_SCHEME)
    for name, scheme in READER_SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    _document_counts_map(api)
    app.register_blueprint(operations.blp)
    app.register_blueprint(web.blp)
    app.register_blueprint(mail_links.blp)
    if app.config["API_DOCS"]:
        app.register_blueprint(reference.blp)
    if app.config["MOD_CONSOLE"]:
        app.register_blueprint(console.blp)
