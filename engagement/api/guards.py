"""Request guards applied to every request, before any view runs."""
from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Flask, Request, Response, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SessionInterface
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.routing import RequestRedirect
from werkzeug.utils import cached_property

from engagement.api.common import READER_TOKEN_HEADER, current_reader

BODY_METHODS = {"POST", "PUT", "PATCH"}
# Only these answers say when to come back; Flask-Limiter adds Retry-After to every limited response.
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Sent with every response unless the route set its own (lower-cased name, name, value).
SECURITY_HEADERS = (
    ("x-content-type-options", "X-Content-Type-Options", "nosniff"),
    ("referrer-policy", "Referrer-Policy", "no-referrer"),
)
# JSON is never a document to render: it may load nothing and be framed nowhere.
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


# Types orjson would write its own way are handed to Flask's ``default`` (dates as HTTP
# dates, dataclasses), so every response reads as Flask's own serialiser would write it.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class StrictJSONProvider(DefaultJSONProvider):
    """Parses JSON strictly (no NaN/Infinity, no duplicate keys) and writes UTF-8.

    Anything it refuses raises ValueError, which Flask answers with 400; that includes
    nesting too deep for the parser (``[[[[...`` thousands deep), which is malformed
    input, not a server error.

    Responses are written by orjson: a thread page is tens of kilobytes, and the
    standard library's encoder took longer to write it than the queries took to read
    it. Parsing stays with the standard library, whose hooks refuse duplicate keys.
    """

    ensure_ascii = False
    sort_keys = False

    def _options(self, indent: bool) -> int:
        return _ORJSON_OPTIONS | (orjson.OPT_INDENT_2 if indent else 0)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default, option=self._options(bool(kwargs.get("indent")))).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """``DefaultJSONProvider.response``, written as bytes at once (compact unless debugging)."""
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        body = orjson.dumps(obj, default=self.default, option=self._options(indent)) + b"\n"
        return self._app.response_class(body, mimetype=self.mimetype)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(
                s, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicate_keys, **kwargs
            )
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class EngagementRequest(Request):
    """Flask's request, except that a query string with nothing to decode is split directly.

    A listing page asks for the counts of up to 100 articles in one query string, and the
    standard parser unquotes every name and value, two calls per parameter (about 60 µs
    for 100 keys). An ASCII query string without ``%`` or ``+`` decodes to itself, so
    splitting it on ``&`` and the first ``=`` gives what that parser gives (empty parts
    skipped, a part without ``=`` an empty value); any other goes to the standard parser.
    Raw bytes that are not UTF-8 are malformed input (400); that parser would raise.
    """

    @cached_property
    def args(self) -> MultiDict[str, str]:
        query = self.query_string
        if b"%" in query or b"+" in query or not query.isascii():
            try:
                return super().args
            except UnicodeDecodeError:
                raise BadRequest("The query string is not valid UTF-8.") from None
        pairs = [part.partition("=") for part in query.decode("ascii").split("&") if part]
        return self.parameter_storage_class([(name, value) for name, _, value in pairs])


class NoSessions(SessionInterface):
    """The service sets no cookies and keeps no sessions: every request gets the null session."""

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"


def _read_body() -> Any:
    """The JSON body: 400 when malformed, 413 over MAX_CONTENT_LENGTH, however it is framed.

    Werkzeug stops reading a body without Content-Length (chunked) at the limit and
    hands over the truncated bytes, which would parse as malformed (400); reading one
    byte more tells an oversized body from one exactly at the limit.
    """
    limit = request.max_content_length
    if request.content_length is None and limit is not None:
        request.max_content_length = limit + 1
        if len(request.get_data()) > limit:
            raise RequestEntityTooLarge()
    return request.get_json()


def install_guards(app: Flask) -> None:
    @app.before_request
    def _no_routing_redirects() -> None:
        # Werkzeug would answer with its own HTML redirect, built from the Host header
        # (e.g. for `//` in a path). Flask skips error handlers for it; raising here does not.
        # An empty path segment is never one of our paths, wherever it is (Werkzeug
        # would quietly route a leading `//` as `/`).
        if isinstance(request.routing_exception, RequestRedirect) or "//" in request.environ.get("PATH_INFO", ""):
            raise NotFound()

    @app.before_request
    def _require_json_object() -> None:
        if request.method not in BODY_METHODS or not _has_body():
            return
        # A few pages take HTML forms (mail links: RFC 8058 one-click unsubscribe); they read no JSON.
        if getattr(app.view_functions.get(request.endpoint or ""), "accepts_form_body", False):
            return
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("Send the body as application/json.")
        body = _read_body()
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.")

    @app.before_request
    def _verify_reader_token() -> None:
        if request.method != "OPTIONS" and (request.headers.get(READER_TOKEN_HEADER) or "").strip():
            current_reader()  # raises Unauthorized when the token does not verify

    # Runs after Flask-Limiter's header hook as long as the guards are installed first
    # (after_request hooks run in reverse order of registration).
    @app.after_request
    def _security_headers(response: Response) -> Response:
        # One pass over the few headers there are: Werkzeug's own lookups raise and catch
        # an exception for every header that is missing, as most of these are.
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        if "retry-after" in present and response.status_code not in RETRY_AFTER_STATUSES:
            del headers["Retry-After"]
        for lowered, name, value in SECURITY_HEADERS:
            if lowered not in present:
                headers.add(name, value)
        if "content-security-policy" not in present and response.mimetype == "application/json":
            headers.add("Content-Security-Policy", JSON_POLICY)
        return response
