"""Request guards applied to every request, before any view runs."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from engagement.api.common import READER_TOKEN_HEADER, current_reader

BODY_METHODS = {"POST", "PUT", "PATCH"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


class StrictJSONProvider(DefaultJSONProvider):
    """Parses JSON strictly (no NaN/Infinity, no duplicate keys) and writes UTF-8."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json.loads(
            s, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicate_keys, **kwargs
        )


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"


def install_guards(app: Flask) -> None:
    @app.before_request
    def _require_json_object() -> None:
        if request.method not in BODY_METHODS or not _has_body():
            return
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("Send the body as application/json.")
        body = request.get_json()  # 400 on malformed JSON, 413 over the size limit
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.")

    @app.before_request
    def _verify_reader_token() -> None:
        if request.method != "OPTIONS" and (request.headers.get(READER_TOKEN_HEADER) or "").strip():
            current_reader()  # raises Unauthorized when the token does not verify

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "application/json":
            headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response
