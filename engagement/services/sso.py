"""Sign-on with the site's own accounts: the site's token verified, the account's profile kept.

The site's server signs a short-lived JWT for its logged-in reader; ``TokenVerifier``
checks it (PyJWT: only the configured algorithms, the configured audience, times within
a small leeway) and ``sign_in`` keeps the profile it carries, so comments show the name
the reader has on the site. The reader token a sign-in gives is an ordinary
``X-Reader-Token`` whose reader id is derived from the account (``Keyring.account_reader_id``):
votes, reactions, views, flags and bans follow the account on every device.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import jwt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.config import ConfigurationError
from engagement.errors import (
    SignInAlgorithmRefused,
    SignInBadSignature,
    SignInExpired,
    SignInMalformed,
    SignInMissingSubject,
    SignInNotYetValid,
    SignInRefused,
    SignInUnknownKey,
    SignInWrongAudience,
    Unauthorized,
    Unavailable,
)
from engagement.importing.records import clean_author, https_avatar
from engagement.models import ReaderAccount
from engagement.privacy import Keyring
from engagement.services.articles import dialect_insert

MAX_TOKEN_LENGTH = 8192  # the site's JWT, before anything parses it
MAX_SUBJECT_LENGTH = 255
MAX_TOKEN_LIFETIME = timedelta(hours=24)
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5

# PyJWT's refusals, as the refusal a client sees. Checked in order (subclasses first).
_REFUSALS: tuple[tuple[type[Exception], type[SignInRefused]], ...] = (
    (jwt.InvalidSignatureError, SignInBadSignature),
    (jwt.InvalidAlgorithmError, SignInAlgorithmRefused),
    (jwt.InvalidAudienceError, SignInWrongAudience),
    (jwt.MissingRequiredClaimError, SignInWrongAudience),  # only "aud" is required of PyJWT
    (jwt.exceptions.InvalidSubjectError, SignInMissingSubject),
    (jwt.DecodeError, SignInMalformed),
    (jwt.InvalidTokenError, SignInRefused),
)


@dataclass(frozen=True)
class SiteAccount:
    """What a verified token says about the reader, cleaned as typed author fields are."""

    subject: str
    name: str | None
    email: str | None
    avatar_url: str | None
    url: str | None


class TokenVerifier:
    """Verifies the site's sign-on JWTs with one configured key: an HMAC secret, a PEM
    public key, or the keys of a JWKS URL (cached; refetched for an unknown key id)."""

    def __init__(
        self,
        *,
        algorithms: list[str],
        audience: str,
        leeway_seconds: int,
        secret: str | None = None,
        public_key: str | None = None,
        jwks_url: str | None = None,
        jwks_refresh_seconds: float = 30.0,
    ):
        self.algorithms = list(algorithms)
        self.audience = audience
        self.leeway = timedelta(seconds=leeway_seconds)
        self._key = secret or public_key
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url, cache_keys=False, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=jwks_refresh_seconds,
            )
            if jwks_url
            else None
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "TokenVerifier | None":
        """The verifier the configuration describes, or None when sign-on is off.

        Raises ConfigurationError when the public key file cannot be read.
        """
        if not (config["SSO_SECRET"] or config["SSO_PUBLIC_KEY_FILE"] or config["SSO_JWKS_URL"]):
            return None
        public_key = None
        if config["SSO_PUBLIC_KEY_FILE"]:
            try:
                public_key = Path(config["SSO_PUBLIC_KEY_FILE"]).read_text()
            except OSError as exc:
                raise ConfigurationError(f"ENGAGEMENT_SSO_PUBLIC_KEY_FILE: cannot read it: {exc}") from exc
        return cls(
            algorithms=config["SSO_ALGORITHMS"],
            audience=config["SSO_AUDIENCE"],
            leeway_seconds=config["SSO_LEEWAY_SECONDS"],
            secret=config["SSO_SECRET"],
            public_key=public_key,
            jwks_url=config["SSO_JWKS_URL"],
            jwks_refresh_seconds=config["SSO_JWKS_REFRESH_SECONDS"],
        )

    def verify(self, token: str, now: datetime) -> SiteAccount:
        """The account a token names. Raises SignInRefused (401, a code per reason),
        Unavailable when the key set cannot be fetched."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise SignInMalformed("The sign-in token is too long.")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError as exc:
            raise SignInMalformed() from exc
        if algorithm not in self.algorithms:
            # ``none`` included: an unsigned token is never accepted.
            raise SignInAlgorithmRefused(f"Sign-in tokens must be signed with {', '.join(self.algorithms)}.")
        try:
            claims = jwt.decode(
                token, self._verification_key(token), algorithms=self.algorithms, audience=self.audience,
                # Times are checked below against the service's clock, each with its own refusal.
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["aud"]},
            )
        except jwt.InvalidTokenError as exc:
            refusal = next(refusal for error, refusal in _REFUSALS if isinstance(exc, error))
            raise refusal() from exc
        self._check_times(claims, now)
        return _account(claims)

    def _verification_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable("The site's signing keys cannot be fetched; retry shortly.") from exc
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.DecodeError) as exc:
            raise SignInUnknownKey() from exc

    def _check_times(self, claims: Mapping[str, Any], now: datetime) -> None:
        issued, expires, not_before = (_moment(claims, name) for name in ("iat", "exp", "nbf"))
        if expires is None or issued is None:
            raise SignInRefused("The sign-in token must carry exp and iat (seconds since the epoch).")
        if expires - issued > MAX_TOKEN_LIFETIME:
            raise SignInRefused("The sign-in token may be valid for at most 24 hours (exp - iat).")
        if now >= expires + self.leeway:
            raise SignInExpired()
        if issued > now + self.leeway or (not_before is not None and not_before > now + self.leeway):
            raise SignInNotYetValid()


def _moment(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -2**40 < value < 2**40:
        raise SignInRefused(f"The sign-in token's {name} must be a number of seconds since the epoch.")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _account(claims: Mapping[str, Any]) -> SiteAccount:
    """The account named by verified claims; the optional ones that do not validate are dropped."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise SignInMissingSubject()
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise SignInRefused(f"The sign-in token's subject is longer than {MAX_SUBJECT_LENGTH} characters.")
    author = clean_author(*(_text(claims, name) for name in ("name", "email", "url")))
    return SiteAccount(subject, author.name, author.email, https_avatar(_text(claims, "avatar")), author.url)


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value[:MAX_TOKEN_LENGTH] if isinstance(value, str) else None


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
