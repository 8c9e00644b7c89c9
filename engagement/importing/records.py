"""The plain records every format reader produces and the import service consumes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from marshmallow import ValidationError

from engagement.models import BodyFormat, CommentStatus, ModerationMode
from engagement.schemas.common import OptionalEmail, OptionalHttpUrl, is_http_url
from engagement.text import clean_plain_text

AUTHOR_NAME_MAX_LENGTH = 80  # as comments.author_name
# Longer bodies are not comments (the API takes 10,000 characters): skipped, and never
# handed to the sanitiser.
MAX_IMPORTED_BODY_LENGTH = 100_000
AVATAR_URL_MAX_LENGTH = 2000  # as comments.avatar_url


class ImportFailed(Exception):
    """The input cannot be imported: malformed, truncated, hostile or of another format.

    The message names the file and the element, row or line at fault.
    """


@dataclass(frozen=True)
class ImportedThread:
    """One source thread (a page with comments).

    ``ref`` is the source's thread reference that comments name. ``key``, when given
    (engagement's own export), is used as is; otherwise the key rule picks one from
    ``url`` and ``identifier``. ``deleted``: the source deleted the thread, its comments
    are skipped. ``views`` and ``reactions`` are applied only to an article the import
    creates (they are totals, not events with ids: adding them twice would double them).
    """

    ref: str
    url: str | None = None
    identifier: str | None = None
    title: str | None = None
    key: str | None = None
    created_at: datetime | None = None
    closed: bool = False
    deleted: bool = False
    moderation: ModerationMode | None = None
    views: int = 0
    reactions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedAuthor:
    name: str | None = None
    email: str | None = None
    url: str | None = None
    # engagement's own export: a signed-in author's verified mark and avatar URL.
    verified: bool = False
    avatar_url: str | None = None


@dataclass(frozen=True)
class ImportedComment:
    """One source comment. ``source``/``source_id`` identify it for good (idempotence);
    ``parent`` is the (source, source id) of the comment it answers, if any.
    ``comment_id`` is the id to keep when restoring engagement's own export."""

    source: str
    source_id: str
    thread_ref: str
    created_at: datetime
    body: str
    body_format: BodyFormat
    status: CommentStatus
    author: ImportedAuthor = ImportedAuthor()
    parent: tuple[str, str] | None = None
    edited_at: datetime | None = None
    purged_at: datetime | None = None
    moderation_reason: str | None = None
    pinned: bool = False
    score: int = 0
    upvotes: int = 0
    downvotes: int = 0
    comment_id: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A source record the format itself rules out (a pingback, say), counted by reason."""

    reason: str


ImportRecord = ImportedThread | ImportedComment | Skipped

_EMAIL = OptionalEmail()
_URL = OptionalHttpUrl()


# Regular commenters write many comments: each author is checked once per import. Room
# for a large site's regulars (an entry is a few hundred bytes): an LRU smaller than the
# set of authors cycling through a file would miss on every comment.
@lru_cache(maxsize=16384)
def clean_author(name: str | None, email: str | None, url: str | None) -> ImportedAuthor:
    """Author fields as a native comment stores them; what does not validate is dropped.

    The name is cleaned plain text cut to 80 characters; the e-mail is normalised by the
    same field the comment API uses (an invalid one is left out, never stored raw); the
    url must be an absolute http(s) URL.
    """
    cleaned_name = clean_plain_text(name or "")[:AUTHOR_NAME_MAX_LENGTH].strip() or None
    return ImportedAuthor(cleaned_name, _valid_or_none(_EMAIL, email), _valid_or_none(_URL, url))


def https_avatar(url: str | None) -> str | None:
    """An avatar URL as signed-in authors' are kept: an absolute https URL of at most
    AVATAR_URL_MAX_LENGTH characters; anything else is dropped."""
    if not url or len(url) > AVATAR_URL_MAX_LENGTH or not url.startswith("https://") or not is_http_url(url):
        return None
    return url


def _valid_or_none(field: OptionalEmail | OptionalHttpUrl, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return field.deserialize(value)
    except ValidationError:
        return None


def parse_time(text: str | None, where: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC. Raises ImportFailed."""
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise ImportFailed(f"{where}: {text!r} is not a date and time") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
