"""Verifying the site's sign-on tokens (PyJWT): only the configured algorithms, the
configured audience, times within a small leeway.

Loaded only when sign-on is configured (``sso.verifier_from_config``): PyJWT brings the
cryptography package along, about 11 MB in every web worker otherwise.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import jwt

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
    Unavailable,
)
from engagement.importing.records import clean_author, https_avatar
from engagement.services.sso import MAX_TOKEN_LENGTH, SiteAccount

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
