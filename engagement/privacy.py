"""Keyed hashes, reader tokens and secret hashing.

Nothing that identifies a person is stored in the clear: client addresses and reader
ids only appear as HMACs under keys derived from SECRET_KEY, each purpose with its own
key so one hash can never be matched against another.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date

from itsdangerous import BadSignature, URLSafeSerializer

READER_TOKEN_SALT = "engagement.reader-token"
CURSOR_SALT = "engagement.cursor"


@dataclass(frozen=True)
class ReaderIdentity:
    """Who is acting, as far as an anonymous service can tell.

    ``key`` is the stable reader hash (from the token, else from address + user agent);
    ``address_hash`` is the keyed hash of the client address alone (for bans);
    ``has_token`` tells whether the reader presented a verified token.
    """

    key: str
    address_hash: str
    has_token: bool
    # Raw inputs kept only in memory for the request (views rotate their own daily keys).
    address: str = ""
    user_agent: str = ""


class Keyring:
    """Purpose-specific keys derived from the one SECRET_KEY."""

    def __init__(self, secret_key: str):
        self._secret = secret_key.encode()
        self._reader_tokens = URLSafeSerializer(secret_key, salt=READER_TOKEN_SALT)
        self._cursors = URLSafeSerializer(secret_key, salt=CURSOR_SALT)
        self._derived: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest()
            if len(self._derived) > 64:  # daily view keys come and go
                self._derived.clear()
            self._derived[purpose] = key
        return key

    def keyed_hash(self, purpose: str, value: str) -> str:
        return hmac.new(self._key(purpose), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    # Reader tokens -------------------------------------------------------------
    def mint_reader_token(self) -> str:
        return self._reader_tokens.dumps(secrets.token_urlsafe(16))

    def verify_reader_token(self, token: str) -> str | None:
        """Return the reader id inside a token, or None when the signature does not verify."""
        try:
            reader_id = self._reader_tokens.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            return None
        return reader_id if isinstance(reader_id, str) else None

    def identify(self, *, token: str | None, address: str, user_agent: str) -> ReaderIdentity | None:
        """Build the reader identity for a request; None when a token was given but is invalid."""
        address_hash = self.keyed_hash("address", address)
        if token is not None:
            reader_id = self.verify_reader_token(token)
            if reader_id is None:
                return None
            key = self.keyed_hash("reader", reader_id)
        else:
            key = self.keyed_hash("anonymous-reader", f"{address}\x00{user_agent}")
        return ReaderIdentity(key, address_hash, token is not None, address, user_agent)

    def daily_visitor_hash(self, identity: ReaderIdentity, day: date) -> str:
        """A visitor hash whose key rotates every UTC day (no long-lived visitor identifier)."""
        if identity.has_token:
            return self.keyed_hash(f"view:{day.isoformat()}", "reader\x00" + identity.key)
        return self.keyed_hash(
            f"view:{day.isoformat()}", f"anon\x00{identity.address}\x00{identity.user_agent}"
        )

    def avatar_seed(self, *, email: str | None, reader_key: str) -> str:
        """Identicon seed: keyed, so it cannot be reversed by hashing guessed emails."""
        source = f"email:{email.lower()}" if email else f"reader:{reader_key}"
        return self.keyed_hash("avatar", source)[:16]

    def email_hash(self, email: str) -> str:
        return self.keyed_hash("email", email.strip().lower())

    # Cursors ----------------------------------------------------------------------
    def sign_cursor(self, payload: object) -> str:
        return self._cursors.dumps(payload)

    def read_cursor(self, cursor: str) -> object | None:
        try:
            return self._cursors.loads(cursor)
        except (BadSignature, UnicodeError, ValueError):
            return None


def new_secret(prefix: str = "") -> str:
    """A high-entropy secret for edit tokens and API tokens."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash a high-entropy secret for storage (SHA-256 suffices: secrets are not guessable)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(secret: str | None, stored_hash: str | None) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    if not secret or not stored_hash:
        return False
    return hmac.compare_digest(hash_secret(secret), stored_hash)
