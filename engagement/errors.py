"""Domain exceptions and the one JSON error envelope every 4xx/5xx response uses."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from engagement import metrics

log = logging.getLogger("engagement.errors")

# Status code -> (code, message) for errors raised by Flask, Werkzeug and webargs.
HTTP_ERROR_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required or failed."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    412: ("precondition_failed", "A precondition failed."),
    413: ("payload_too_large", "The request body is too large."),
    414: ("uri_too_long", "The request line is too long."),
    415: ("unsupported_media_type", "Send the body as application/json."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    422: ("validation_error", "The request did not validate."),
    429: ("rate_limited", "Too many requests; slow down."),
    431: ("headers_too_large", "The request headers are too large."),
    500: ("internal_error", "Something went wrong on our side."),
    501: ("not_implemented", "The server does not support this."),
    503: ("unavailable", "The service is temporarily unavailable; retry shortly."),
}

DATABASE_RETRY_AFTER_SECONDS = 5


class DomainError(Exception):
    """Base of the errors services raise; each maps to one status and code."""

    status = 400
    code = "bad_request"
    message = "The request could not be understood."

    def __init__(self, message: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", "Authentication is required or failed."


class SignInRefused(Unauthorized):
    """The site's sign-on token was refused; each subclass's code says why."""

    status, code, message = 401, "sso_invalid", "The sign-in token does not validate."


class SignInMalformed(SignInRefused):
    code, message = "sso_malformed", "The sign-in token is not a well-formed JWT."


class SignInBadSignature(SignInRefused):
    code, message = "sso_bad_signature", "The sign-in token's signature does not verify."


class SignInAlgorithmRefused(SignInRefused):
    code, message = "sso_algorithm_not_allowed", "The sign-in token's algorithm is not accepted."


class SignInUnknownKey(SignInRefused):
    code, message = "sso_unknown_key", "The sign-in token's key (kid) is not among the site's keys."


class SignInExpired(SignInRefused):
    code, message = "sso_expired", "The sign-in token has expired."


class SignInNotYetValid(SignInRefused):
    code, message = "sso_not_yet_valid", "The sign-in token is not valid yet."


class SignInWrongAudience(SignInRefused):
    code, message = "sso_wrong_audience", "The sign-in token is for another audience."


class SignInMissingSubject(SignInRefused):
    code, message = "sso_missing_subject", "The sign-in token names no subject (sub)."


class Forbidden(DomainError):
    status, code, message = 403, "forbidden", "You are not allowed to do this."


class CommentsClosed(DomainError):
    status, code, message = 403, "comments_closed", "Comments are closed for this article."


class Banned(DomainError):
    status, code, message = 403, "banned", "You are not allowed to take part here."


class SignInRequired(DomainError):
    status, code, message = 403, "sign_in_required", "Sign in with your account on this site to take part."


class NotFound(DomainError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(DomainError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class RateLimited(DomainError):
    status, code, message = 429, "rate_limited", "Too many requests; slow down."

    def __init__(self, message: str | None = None, *, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    """Something the request depends on (a database, the site's key set) cannot be reached."""

    status, code, message = 503, "unavailable", "The service is temporarily unavailable; retry shortly."


class ValidationFailed(DomainError):
    status, code, message = 422, "validation_error", "The request did not validate."

    def __init__(self, fields: dict[str, list[str]], message: str | None = None):
        super().__init__(message, fields)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn webargs/marshmallow messages ({location: {field: [...]}}) into {field: [...]}."""
    if isinstance(messages, list):
        flat = [m for m in messages if isinstance(m, str)]
        nested: dict[str, list[str]] = {}
        for item in messages:
            if isinstance(item, dict):
                nested.update(_flatten_messages(item, prefix))
        if flat:
            nested.setdefault(prefix or "_schema", []).extend(flat)
        return nested
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for name, value in messages.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            for field, problems in _flatten_messages(value, key).items():
                out.setdefault(field, []).extend(problems)
        return out
    return {prefix or "_schema": [str(messages)]}


def _webargs_fields(error: HTTPException) -> dict[str, list[str]] | None:
    data = getattr(error, "data", None)
    if not isinstance(data, dict) or "messages" not in data:
        return None
    fields: dict[str, list[str]] = {}
    for _location, messages in data["messages"].items():
        for field, problems in _flatten_messages(messages).items():
            fields.setdefault(field, []).extend(problems)
    return fields


def handle_domain_error(error: DomainError) -> Response:
    headers = None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after)}
    elif isinstance(error, Unavailable):
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    return error_response(error.status, error.code, error.message, error.fields, headers)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code, default_message = HTTP_ERROR_CODES.get(status, ("error", error.name))
    fields = _webargs_fields(error) if status in (400, 422) else None
    message = default_message
    if status == 400 and fields:
        message = "; ".join(p for problems in fields.values() for p in problems)
        fields = None
    headers = {}
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    if status == 429 and error.response is not None and error.response.headers.get("Retry-After"):
        headers["Retry-After"] = error.response.headers["Retry-After"]
    return error_response(status, code, message, fields, headers)


def handle_database_unavailable(error: DBAPIError) -> Response:
    log.warning("database unavailable: %s", error.__class__.__name__, exc_info=False)
    metrics.database_unavailable(error.__class__.__name__)
    code, message = HTTP_ERROR_CODES[503]
    return error_response(503, code, message, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


def handle_unexpected(error: Exception) -> Response:
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, HTTPException):
        return handle_http_exception(original)
    if isinstance(original, OperationalError) or (
        isinstance(original, DBAPIError) and original.connection_invalidated
    ):
        return handle_database_unavailable(original)
    log.error("unhandled error", exc_info=original)
    code, message = HTTP_ERROR_CODES[500]
    return error_response(500, code, message)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
