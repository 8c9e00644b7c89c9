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
from engagement.errors import SignInRefused, Unauthorized, Unavailable
from engagement.importing.records import clean_author
from engagement.models import ReaderAccount
from engagement.privacy import Keyring
from engagement.services.articles import dialect_insert
from engagement.schemas.common import is_http_url

MAX_TOKEN_LENGTH = 8192  # the site's JWT, before anything parses it
MAX_SUBJECT_LENGTH = 255
MAX_TOKEN_LIFETIME = timedelta(hours=24)
AVATAR_MAX_LENGTH = 2000
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5

# PyJWT's refusals, by the code a client sees. Checked in order (subclasses first).
_REFUSALS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.InvalidSignatureError, "sso_bad_signature", "The sign-in token's signature does not verify."),
    (jwt.InvalidAlgorithmError, "sso_algorithm_not_allowed", "The sign-in token's algorithm is not accepted."),
    (jwt.InvalidAudienceError, "sso_wrong_audience", "The sign-in token is for another audience."),
    (jwt.exceptions.InvalidSubjectError, "sso_missing_subject", "The sign-in token's subject (sub) must be a string."),
    (jwt.DecodeError, "sso_malformed", "The sign-in token is not a well-formed JWT."),
    (jwt.InvalidTokenError, "sso_invalid", "The sign-in token does not validate."),
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
            raise SignInRefused("sso_malformed", "The sign-in token is too long.")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError as exc:
            raise SignInRefused("sso_malformed", "The sign-in token is not a well-formed JWT.") from exc
        if algorithm not in self.algorithms:
            # ``none`` included: an unsigned token is never accepted.
            raise SignInRefused("sso_algorithm_not_allowed", f"Sign-in tokens must be signed with {', '.join(self.algorithms)}.")
        try:
            claims = jwt.decode(
                token, self._verification_key(token), algorithms=self.algorithms, audience=self.audience,
                # Times are checked below against the service's clock, each with its own refusal.
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["aud"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise SignInRefused("sso_wrong_audience", "The sign-in token names no audience (aud).") from exc
        except jwt.InvalidTokenError as exc:
            for error, code, message in _REFUSALS:
                if isinstance(exc, error):
                    raise SignInRefused(code, message) from exc
            raise  # every InvalidTokenError matches the last entry
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
            raise SignInRefused("sso_unknown_key", "The sign-in token's key (kid) is not among the site's keys.") from exc

    def _check_times(self, claims: Mapping[str, Any], now: datetime) -> None:
        issued, expires, not_before = (_moment(claims, name) for name in ("iat", "exp", "nbf"))
        if expires is None or issued is None:
            raise SignInRefused("sso_invalid", "The sign-in token must carry exp and iat (seconds since the epoch).")
        if expires - issued > MAX_TOKEN_LIFETIME:
            raise SignInRefused("sso_invalid", "The sign-in token may be valid for at most 24 hours (exp - iat).")
        if now >= expires + self.leeway:
            raise SignInRefused("sso_expired", "The sign-in token has expired.")
        if issued > now + self.leeway or (not_before is not None and not_before > now + self.leeway):
            raise SignInRefused("sso_not_yet_valid", "The sign-in token is not valid yet.")


def _moment(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -2**40 < value < 2**40:
        raise SignInRefused("sso_invalid", f"The sign-in token's {name} must be a number of seconds since the epoch.")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _account(claims: Mapping[str, Any]) -> SiteAccount:
    """The account named by verified claims; the optional ones that do not validate are dropped."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise SignInRefused("sso_missing_subject", "The sign-in token names no subject (sub).")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise SignInRefused("sso_invalid", f"The sign-in token's subject is longer than {MAX_SUBJECT_LENGTH} characters.")
    author = clean_author(*(_text(claims, name) for name in ("name", "email", "url")))
    avatar = _text(claims, "avatar")
    if avatar is not None and not (len(avatar) <= AVATAR_MAX_LENGTH and avatar.startswith("https://") and is_http_url(avatar)):
        avatar = None
    return SiteAccount(subject, author.name, author.email, avatar, author.url)


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
