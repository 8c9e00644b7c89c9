"""HTTP layer: blueprints registered on the app and documented in the OpenAPI spec."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from engagement.api import articles, comments, flags, moderation, operations, readers, votes, web
from engagement.api.auth import BEARER_SCHEME, SECURITY_SCHEME
from engagement.api.common import ArticleKeyConverter, IdConverter

API_BLUEPRINTS = (readers.blp, comments.blp, articles.blp, votes.blp, flags.blp, moderation.blp)


def _article_key_parameter(_converter: ArticleKeyConverter) -> dict[str, object]:
    return {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ArticleKeyConverter.pattern}


def _id_parameter(_converter: IdConverter) -> dict[str, object]:
    return {"type": "integer", "minimum": 0}


def register_api(app: Flask, api: Api) -> None:
    app.url_map.converters["article_key"] = ArticleKeyConverter
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, _id_parameter)
    api.register_converter(ArticleKeyConverter, _article_key_parameter)
    api.spec.components.security_scheme(BEARER_SCHEME, SECURITY_SCHEME)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(operations.blp)
    app.register_blueprint(web.blp)
