"""Sign-on with the site's own accounts: the site's token verified, the account's profile kept.

The site's server signs a short-lived JWT for its logged-in reader;
``sso_tokens.TokenVerifier`` checks it (PyJWT: only the configured algorithms, the
configured audience, times within a small leeway) and ``sign_in`` keeps the profile it carries, so comments show the name
the reader has on the site. The reader token a sign-in gives is an ordinary
``X-Reader-Token`` whose reader id is derived from the account (``Keyring.account_reader_id``):
votes, reactions, views, flags and bans follow the account on every device.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import ConfigurationError
from engagement.errors import Unauthorized
from engagement.models import ReaderAccount
from engagement.privacy import Keyring
from engagement.services.articles import dialect_insert

if TYPE_CHECKING:
    from engagement.services.sso_tokens import TokenVerifier

MAX_TOKEN_LENGTH = 8192  # the site's JWT, before anything parses it


@dataclass(frozen=True)
class SiteAccount:
    """What a verified token says about the reader, cleaned as typed author fields are."""

    subject: str
    name: str | None
    email: str | None
    avatar_url: str | None
    url: str | None


def verifier_from_config(config: Mapping[str, Any]) -> TokenVerifier | None:
    """The verifier the configuration describes, or None when sign-on is off.

    Raises ConfigurationError when the public key file cannot be read.
    """
    if not (config["SSO_SECRET"] or config["SSO_PUBLIC_KEY_FILE"] or config["SSO_JWKS_URL"]):
        return None
    # Imported only now: PyJWT and cryptography would cost every web worker about 11 MB
    # on the sites that never turn sign-on on.
    from engagement.services.sso_tokens import TokenVerifier

    public_key = None
    if config["SSO_PUBLIC_KEY_FILE"]:
        try:
            public_key = Path(config["SSO_PUBLIC_KEY_FILE"]).read_text()
        except OSError as exc:
            raise ConfigurationError(f"ENGAGEMENT_SSO_PUBLIC_KEY_FILE: cannot read it: {exc}") from exc
    return TokenVerifier(
        algorithms=config["SSO_ALGORITHMS"],
        audience=config["SSO_AUDIENCE"],
        leeway_seconds=config["SSO_LEEWAY_SECONDS"],
        secret=config["SSO_SECRET"],
        public_key=public_key,
        jwks_url=config["SSO_JWKS_URL"],
        jwks_refresh_seconds=config["SSO_JWKS_REFRESH_SECONDS"],
    )


def sign_in(session: Session, keyring: Keyring, *, account: SiteAccount, now: datetime) -> ReaderAccount:
    """Store (or refresh) the profile of a verified account; one atomic upsert."""
    profile = {"name": account.name, "email": account.email, "avatar_url": account.avatar_url, "url": account.url}
    reader_hash = keyring.account_reader_key(account.subject)
    session.execute(
        dialect_insert(session, ReaderAccount)
        .values(reader_hash=reader_hash, created_at=now, signed_in_at=now, **profile)
        .on_conflict_do_update(index_elements=["reader_hash"], set_={"signed_in_at": now, **profile})
    )
    return session.scalars(
        sa.select(ReaderAccount).where(ReaderAccount.reader_hash == reader_hash).execution_options(populate_existing=True)
    ).one()


def find_account(session: Session, reader_hash: str) -> ReaderAccount | None:
    return session.scalars(sa.select(ReaderAccount).where(ReaderAccount.reader_hash == reader_hash)).one_or_none()


def require_account(session: Session, reader_hash: str) -> ReaderAccount:
    """The signed-in reader's profile. Raises Unauthorized when it is gone (erased): sign in again."""
    account = find_account(session, reader_hash)
    if account is None:
        raise Unauthorized("This sign-in has ended. Sign in again.")
    return account
