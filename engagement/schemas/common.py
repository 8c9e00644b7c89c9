"""Field types and shapes shared by every schema."""
from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from marshmallow import Schema, ValidationError, fields, validate

from engagement.clock import iso_timestamp
from engagement.models.base import MAX_ID
from engagement.text import clean_plain_text, strip_unsafe_codepoints


# The site's article key (API.md): 1-200 of A-Z a-z 0-9 . _ : - starting with a letter or
# digit. The route converter (api.common.ArticleKeyConverter) matches the same.
ARTICLE_KEY_REGEX = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}"
ARTICLE_KEY_PATTERN = f"^{ARTICLE_KEY_REGEX}$"  # as documented in OpenAPI
ARTICLE_KEY = re.compile(ARTICLE_KEY_REGEX)  # use fullmatch


class WholeMatch(validate.Regexp):
    """``validate.Regexp`` over the whole value: its ``re.match`` lets ``$`` accept a
    trailing newline, which would reach storage and logs inside a key."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def article_key_validator(error: str | None = None) -> WholeMatch:
    return WholeMatch(ARTICLE_KEY_PATTERN, error=error)


class Timestamp(fields.Field):
    """ISO 8601 in UTC with a Z suffix, e.g. 2025-09-13T08:00:00Z (dump only)."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso_timestamp(value)


class SafeString(fields.String):
    """Free text with NUL bytes and lone surrogates removed (PostgreSQL rejects NUL)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return strip_unsafe_codepoints(super()._deserialize(value, attr, data, **kwargs))


class OptionalText(fields.String):
    """Plain text where an empty or whitespace-only value means absent (forms send '')."""

    def __init__(self, *, max_length: int, **kwargs: Any):
        super().__init__(allow_none=True, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = clean_plain_text(super()._deserialize(value, attr, data, **kwargs))
        if not text:
            return None
        if len(text) > self.max_length:
            raise ValidationError(f"Longer than maximum length {self.max_length}.")
        return text


class OptionalEmail(OptionalText):
    """An email address (syntax only, no DNS look-ups), normalised; blank means absent."""

    def __init__(self, **kwargs: Any):
        super().__init__(max_length=254, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        try:
            return normalised_email(text)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from exc


# An unquoted ASCII local part (RFC 5322 dot-atom): what nearly every address has.
# Its characters exclude the dot, so the pattern matches in linear time.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254


def normalised_email(address: str) -> str:
    """``address`` as email_validator normalises it (no DNS); raises EmailNotValidError.

    Readers of one site share a few domains, and checking a domain (IDNA, the
    special-use names) is most of email_validator's work: an address with a plain ASCII
    local part reuses the verdict on its domain, which gives the same result (a test
    holds the two paths to that). Anything else goes through email_validator whole.
    """
    local_part, at, domain = address.rpartition("@")
    if at and len(local_part) <= _MAX_LOCAL_PART and _PLAIN_LOCAL_PART.fullmatch(local_part):
        checked_domain = _checked_domain(domain)
        if checked_domain is not None and len(normalised := f"{local_part}@{checked_domain}") <= _MAX_ADDRESS:
            return normalised
    return validate_email(address, check_deliverability=False).normalized


@lru_cache(maxsize=1024)
def _checked_domain(domain: str) -> str | None:
    """The normalised form of ``domain``, or None where email_validator refuses it."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no userinfo.

    ``https://paypal.com@evil.example/`` goes to evil.example: a URL with a user name
    or password (anything before an ``@`` in the authority) is refused.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not any(ch.isspace() or ord(ch) < 32 for ch in value)
    )


class OptionalHttpUrl(OptionalText):
    """An absolute http(s) URL; blank means absent."""

    def __init__(self, **kwargs: Any):
        super().__init__(max_length=2000, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is not None and not is_http_url(text):
            raise ValidationError("Must be an absolute http:// or https:// URL.")
        return text


ID_MAX_DIGITS = 10  # MAX_ID has 10 digits


class IdField(fields.Integer):
    """A JSON integer (not a boolean) or a string of 1-10 ASCII digits; nothing else.

    No floats (``1.5``, ``1.0``), no signs or spaces (``" 1"``), no other scripts'
    digits (``"١"``), which ``int()`` would all accept.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if isinstance(value, str):
            if not (0 < len(value) <= ID_MAX_DIGITS and value.isascii() and value.isdigit()):
                raise self.make_error("invalid", input=value)
        elif not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


def Id(**kwargs: Any) -> fields.Integer:
    """A comment or object id: a positive integer (digit strings accepted, ids are opaque)."""
    return IdField(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class RepeatableQuerySchema(Schema):
    """A query-string schema whose result depends on the query string alone: no clock,
    no settings, no request state. The public reads every page load makes (thread pages,
    counts, trending) declare theirs so; the parser keeps their recent results
    (``api.common.EngagementParser``).
    """


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field_errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), data_key="fields"
    )


class ErrorSchema(Schema):
    """The one error envelope: {"error": {"code", "message", "fields"?}}."""

    error = fields.Nested(ErrorDetailSchema, required=True)
