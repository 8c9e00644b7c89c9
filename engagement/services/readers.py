"""What the service knows of one reader, as that reader may see it: who they are, their comments."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import Settings
from engagement.errors import Unauthorized, ValidationFailed
from engagement.models import Article, Comment, ReaderAccount
from engagement.privacy import Keyring, ReaderIdentity
from engagement.services import sso
from engagement.services.comments import ThreadNode

if TYPE_CHECKING:
    from engagement.services.sso_tokens import TokenVerifier


class ReaderKind(enum.Enum):
    ACCOUNT = "account"  # signed in with the site's account
    TOKEN = "token"  # an anonymous reader token
    ADDRESS = "address"  # no token: known only by a keyed hash of address and browser


@dataclass(frozen=True)
class Me:
    kind: ReaderKind
    verified: bool
    name: str | None = None
    email: str | None = None
    url: str | None = None
    avatar: str | None = None
    signed_in_at: datetime | None = None


@dataclass
class OwnComment(ThreadNode):
    """One of the reader's own comments: whatever its status, with the text as typed."""

    @property
    def body_source(self) -> str:
        return "" if self.deleted else self.comment.body_source

    @property
    def author_email(self) -> str | None:
        return self.comment.author_email


@dataclass
class OwnCommentPage:
    comments: list[OwnComment]
    next_cursor: str | None


def require_token(reader: ReaderIdentity) -> None:
    """Refuse a reader known only by address and browser: others may share both.

    Raises Unauthorized.
    """
    if not reader.has_token:
        raise Unauthorized("Send your X-Reader-Token: without it your comments cannot be told from others'.")


@dataclass(frozen=True)
class SignedIn:
    reader_token: str
    expires_at: datetime
    me: Me


def _account_me(account: ReaderAccount) -> Me:
    return Me(
        ReaderKind.ACCOUNT, True, account.name, account.email, account.url, account.avatar_url, account.signed_in_at
    )


def sign_in(
    session: Session,
    keyring: Keyring,
    verifier: TokenVerifier,
    *,
    token: str,
    lifetime: timedelta,
    now: datetime,
) -> SignedIn:
    """Exchange the site's token for a reader token bound to its account, storing the profile.

    Raises SignInRefused (401, a code per reason), Unavailable (the site's keys unreachable).
    """
    site_account = verifier.verify(token, now)
    account = sso.sign_in(session, keyring, account=site_account, now=now)
    reader_token = keyring.mint_account_token(site_account.subject, now, lifetime)
    return SignedIn(reader_token, now + lifetime, _account_me(account))


def describe(session: Session, reader: ReaderIdentity) -> Me:
    """Who the service takes the reader to be (never a hash). Raises Unauthorized for an erased account."""
    if reader.signed_in:
        return _account_me(sso.require_account(session, reader.key))
    return Me(ReaderKind.TOKEN if reader.has_token else ReaderKind.ADDRESS, False)


def _decode_cursor(keyring: Keyring, cursor: str) -> int:
    payload = keyring.read_cursor(cursor)
    before = payload.get("before") if isinstance(payload, dict) else None
    if not isinstance(before, int) or isinstance(before, bool):
        raise ValidationFailed({"cursor": ["Invalid cursor."]})
    return before


def own_comments(
    session: Session, keyring: Keyring, settings: Settings, *, reader: ReaderIdentity, limit: int, cursor: str | None
) -> OwnCommentPage:
    """The reader's comments in every status, newest first; erased ones are gone.

    Raises Unauthorized without a reader token, ValidationFailed for a bad cursor.
    """
    require_token(reader)
    query = (
        sa.select(Comment, Article.key)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.reader_hash == reader.key, Comment.purged_at.is_(None))
        .order_by(Comment.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Comment.id < _decode_cursor(keyring, cursor))
    rows = session.execute(query).all()
    page = [OwnComment(comment, key, settings.anonymous_name) for comment, key in rows[:limit]]
    more = len(rows) > limit
    return OwnCommentPage(page, keyring.sign_cursor({"before": page[-1].comment.id}) if more else None)
