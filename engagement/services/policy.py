"""The moderation policy: every publish-time check in one place.

Comment creation and edits call ``evaluate``; each check may refuse the submission (by
raising a DomainError), hold it for a moderator or mark it as spam, giving a reason that
moderators see. Checks on the body judge what readers will see (``rendered_body``: the
text, links and code of the sanitised HTML), never the Markdown as typed. What the
default checks read from the database (a ban, a recent duplicate, the blocklist's
version) is read once, in one statement, by the first check that needs it
(``Submission.stored_facts``). New signals are added to ``DEFAULT_CHECKS`` (or passed as
``checks``) without touching routes or the comment service.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import Banned, CommentsClosed, Conflict, ValidationFailed
from engagement.models import BlocklistAction, Comment, CommentStatus
from engagement.privacy import ReaderIdentity
from engagement.sanitize import RenderedBody, render_body
from engagement.services import blocklist
from engagement.services.articles import ThreadArticle, is_closed, is_premoderated
from engagement.services.bans import any_ban_matches, any_ban_parameters
from engagement.services.statements import run
from engagement.text import strip_ignorables


@dataclass(frozen=True)
class Submission:
    """What a reader is trying to publish (a new comment, or an edit of ``comment_id``)."""

    article: ThreadArticle
    body_source: str
    reader: ReaderIdentity
    now: datetime
    author_email: str | None = None
    honeypot: str | None = None
    comment_id: int | None = None
    # Keyed hash of author_email (the policy has no keyring), for email bans.
    email_hash: str | None = None
    # The body as rendered for storage, when the caller has it (saves a second render).
    rendered: RenderedBody | None = None
    # Where ``stored_facts`` keeps what it read, for the checks after the first.
    _read: dict[str, StoredFacts] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def is_edit(self) -> bool:
        return self.comment_id is not None

    @cached_property
    def rendered_body(self) -> RenderedBody:
        """What readers will see: ``rendered`` when given, else ``body_source`` rendered once."""
        return self.rendered if self.rendered is not None else render_body(self.body_source)

    def stored_facts(self, session: Session, settings: Settings) -> StoredFacts:
        """What the default checks read from the database, in one statement on first use."""
        facts = self._read.get("facts")
        if facts is None:
            facts = self._read["facts"] = _read_stored_facts(session, self, settings)
        return facts


@dataclass(frozen=True)
class StoredFacts:
    """What the database says about a submission: a ban in force on its reader, address or
    email (on an edit, also the comment's author's), the same body from the same reader on
    the same article within the duplicate window, and the blocklist's version
    (``blocklist.VERSION``)."""

    banned: bool
    duplicate: bool
    blocklist_version: str | None


@dataclass(frozen=True)
class Verdict:
    status: CommentStatus
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str | None:
        return ", ".join(self.reasons)[:200] if self.reasons else None


PUBLISH = Verdict(CommentStatus.APPROVED)

# A check returns None (no objection) or a Verdict (hold / spam), or raises to refuse.
Check = Callable[[Session, Submission, Settings], Verdict | None]


def refuse_empty_bodies(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    # The schema refuses blank sources; this refuses sources that render to nothing
    # visible ("---", "[](http://x.example)", invisible characters in Markdown).
    if not strip_ignorables(submission.rendered_body.text).strip():
        raise ValidationFailed({"body": ["The comment is empty."]})
    return None


def refuse_closed_threads(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if is_closed(submission.article, settings, submission.now):
        raise CommentsClosed()
    return None


def refuse_banned(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    """Refuse a banned reader, address or email; edits also check the comment's own author."""
    if submission.stored_facts(session, settings).banned:
        raise Banned()
    return None


def drop_honeypot_hits(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    # Bots fill every field; humans never see this one. Stored as spam, never public.
    if submission.honeypot:
        return Verdict(CommentStatus.SPAM, ("honeypot",))
    return None


_COMMENTS = Comment.__table__
# The same body from the same reader on the same article, posted since a moment.
_RECENT_DUPLICATE = (
    sa.select(_COMMENTS.c.id)
    .where(
        _COMMENTS.c.reader_hash == sa.bindparam("reader_hash"),
        _COMMENTS.c.created_at >= sa.bindparam("since", type_=_COMMENTS.c.created_at.type),
        _COMMENTS.c.article_id == sa.bindparam("article_id"),
        _COMMENTS.c.body_source == sa.bindparam("body_source"),
    )
    .limit(1)
)

# ``StoredFacts`` in one statement (built once): each fact is an indexed lookup, and on
# PostgreSQL each statement of its own would be a round trip of its own.
_STORED_FACTS = sa.select(
    any_ban_matches().label("banned"),
    _RECENT_DUPLICATE.exists().label("duplicate"),
    blocklist.VERSION.scalar_subquery().label("blocklist_version"),
)


def _read_stored_facts(session: Session, submission: Submission, settings: Settings) -> StoredFacts:
    readers = {submission.reader.key}
    addresses = {submission.reader.address_hash}
    if submission.comment_id is not None:
        edited = session.get(Comment, submission.comment_id)
        if edited is not None:
            readers.add(edited.reader_hash)
            addresses.add(edited.address_hash)
    parameters: dict[str, Any] = {
        **any_ban_parameters(
            submission.now, reader_hashes=tuple(readers), address_hashes=tuple(addresses),
            email_hash=submission.email_hash,
        ),
        "reader_hash": submission.reader.key,
        "since": submission.now - timedelta(minutes=settings.duplicate_window_minutes),
        "article_id": submission.article.id,
        "body_source": submission.body_source,
    }
    banned, duplicate, version = run(session, _STORED_FACTS, parameters).one()
    return StoredFacts(bool(banned), bool(duplicate), version)


def refuse_duplicates(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if not submission.is_edit and submission.stored_facts(session, settings).duplicate:
        raise Conflict("You posted the same comment a moment ago.")
    return None


def hold_for_premoderation(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    # Edits too: a moderator approved the text they read, not what it is edited into.
    if is_premoderated(submission.article.moderation, settings):
        return Verdict(CommentStatus.PENDING, ("premoderation",))
    return None


def screen_blocked_words(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    version = submission.stored_facts(session, settings).blocklist_version
    action = blocklist.screen(session, submission.rendered_body.text, version)
    if action is BlocklistAction.REJECT:
        raise ValidationFailed({"body": ["The comment contains a word that is not allowed here."]})
    if action is BlocklistAction.HOLD:
        return Verdict(CommentStatus.PENDING, ("blocklist",))
    return None


# Letters, digits, combining marks and pictographs count as text; punctuation and symbols do not.
_TEXT_CATEGORIES = ("L", "N", "M", "So")
NON_TEXT_MIN_LENGTH = 12  # shorter bodies ("ok", "+1!") are never judged
NON_TEXT_MAX_SHARE = 0.7
MAX_REPEATED_RUN = 15
# Linear: at each position at most MAX_REPEATED_RUN characters are compared.
_REPEATED_RUN = re.compile(rf"(.)\1{{{MAX_REPEATED_RUN - 1}}}", re.DOTALL)
_DROP_ASCII_ALNUM = str.maketrans("", "", string.ascii_letters + string.digits)


def count_links(rendered: RenderedBody) -> int:
    """Links a reader can follow or copy: every anchor, plus each URL left as text."""
    return rendered.link_count + sum(max(1, url.count("://")) for url in rendered.plain_urls)


def hold_link_heavy(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if count_links(submission.rendered_body) > settings.spam_max_links:
        return Verdict(CommentStatus.PENDING, ("too_many_links",))
    return None


def is_mostly_non_text(rendered: RenderedBody) -> bool:
    """Bodies that are only links, long runs of one character, or mostly punctuation/symbols.

    Judged on what readers see, code left out: a comment that is a code block is text.
    Linear in the length of the body.
    """
    words = "".join(rendered.prose.split())
    urls = sum(len(url) for url in (*rendered.shown_urls, *rendered.plain_urls))
    if len(words) + urls < NON_TEXT_MIN_LENGTH:
        return False
    if not words:
        return True  # nothing but links
    if _REPEATED_RUN.search(words):
        return True
    return 1 - _count_text(words) / len(words) > NON_TEXT_MAX_SHARE


def _count_text(words: str) -> int:
    """How many characters of ``words`` are of ``_TEXT_CATEGORIES``."""
    if words.isascii():
        # ASCII's only such characters are its letters and digits (it has no marks and
        # no "So" symbols): counted in one pass in C rather than a lookup per character.
        return len(words) - len(words.translate(_DROP_ASCII_ALNUM))
    return sum(1 for ch in words if unicodedata.category(ch).startswith(_TEXT_CATEGORIES))


def hold_non_text(session: Session, submission: Submission, settings: Settings) -> Verdict | None:
    if is_mostly_non_text(submission.rendered_body):
        return Verdict(CommentStatus.PENDING, ("mostly_non_text",))
    return None


DEFAULT_CHECKS: tuple[Check, ...] = (
    refuse_empty_bodies,
    refuse_closed_threads,
    refuse_banned,
    refuse_duplicates,
    drop_honeypot_hits,
    hold_for_premoderation,
    screen_blocked_words,
    hold_link_heavy,
    hold_non_text,
)

# Strongest verdict wins: spam over pending over approved.
_SEVERITY = {CommentStatus.APPROVED: 0, CommentStatus.PENDING: 1, CommentStatus.SPAM: 2}


def evaluate(
    session: Session,
    submission: Submission,
    settings: Settings,
    checks: Sequence[Check] | None = None,
) -> Verdict:
    """Run every check in order and combine their verdicts.

    ``checks`` defaults to DEFAULT_CHECKS followed by the configured extra checks
    (``settings.extra_checks``, e.g. an external spam service).

    Raises whatever a refusing check raises (CommentsClosed, Banned, Conflict,
    ValidationFailed). Returns the strongest verdict with every reason given.
    """
    if checks is None:
        checks = (*DEFAULT_CHECKS, *settings.extra_checks)
    status = CommentStatus.APPROVED
    reasons: list[str] = []
    for check in checks:
        verdict = check(session, submission, settings)
        if verdict is None:
            continue
        reasons.extend(verdict.reasons)
        if _SEVERITY[verdict.status] > _SEVERITY[status]:
            status = verdict.status
    return Verdict(status, tuple(reasons)) if reasons else PUBLISH
