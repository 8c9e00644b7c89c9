"""Keyed hashes, reader tokens and secret hashing.

Nothing that identifies a person is stored in the clear: client addresses and reader
ids only appear as HMACs under keys derived from SECRET_KEY, each purpose with its own
key so one hash can never be matched against another.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

READER_TOKEN_SALT = "engagement.reader-token"
CURSOR_SALT = "engagement.cursor"
MAIL_CONFIRMATION_SALT = "engagement.mail-confirmation"
UNSUBSCRIBE_SALT = "engagement.mail-unsubscribe"

# Longer values cannot be real; bounding them first keeps every later check linear and cheap.
MAX_USER_AGENT_LENGTH = 512
MAX_READER_TOKEN_LENGTH = 256
MAX_ADDRESS_LENGTH = 64
# How many recent addresses a worker keeps parsed and hashed (``Keyring.identify``).
ADDRESS_FACTS_CACHED = 4096
# Reader ids of readers signed in with the site's account start with this; anonymous ids
# are URL-safe base64, which has no colon.
ACCOUNT_READER_PREFIX = "sso:"
MAX_MAIL_TOKEN_LENGTH = 300

# What counts as one client and as one network. An IPv6 subscriber usually holds a whole
# /64 (privacy addresses rotate inside it) and a site a /48; IPv4 clients are one address,
# and a /24 is the usual unit one operator hands out.
IPV6_CLIENT_PREFIX = 64
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48


@dataclass(frozen=True)
class ClientAddress:
    """The client address reduced to what identifies a client and a network."""

    client: str  # IPv4 address, or the IPv6 /64 it is in
    network: str  # IPv4 /24 or IPv6 /48

    @classmethod
    def parse(cls, address: str) -> "ClientAddress":
        """Never raises: an address that does not parse stands for itself (bounded).

        Every request is identified, so networks are cut with integer masks:
        ``ipaddress.ip_network(..., strict=False)`` gives the same text at several times
        the cost (it parses a string it was just given).
        """
        try:
            ip = ipaddress.ip_address(address[:MAX_ADDRESS_LENGTH])
        except ValueError:
            raw = address[:MAX_ADDRESS_LENGTH]
            return cls(raw, raw)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv4Address):
            return cls(str(ip), _network_text(ip, IPV4_NETWORK_PREFIX))
        return cls(_network_text(ip, IPV6_CLIENT_PREFIX), _network_text(ip, IPV6_NETWORK_PREFIX))


def _network_text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> str:
    """``str(ip_network(f"{ip}/{prefix}", strict=False))``, without parsing text again."""
    host_bits = ip.max_prefixlen - prefix
    return f"{type(ip)((int(ip) >> host_bits) << host_bits)}/{prefix}"


@dataclass(frozen=True)
class ReaderIdentity:
    """Who is acting, as far as an anonymous service can tell.

    ``key`` is the stable reader hash (from the token, else from client address + user agent);
    ``address_hash`` is the keyed hash of the client address (an IPv6 client's /64) for bans
    and per-address limits; ``network_hash`` the keyed hash of its network (IPv4 /24,
    IPv6 /48), so flags from one network count once. ``has_token`` tells whether the
    reader presented a verified token, ``established`` whether that token is old enough to
    weigh fully where abuse matters (flags, per-address budgets): freshly minted tokens
    cost an attacker nothing, so they count for little.
    """

    key: str
    address_hash: str
    has_token: bool
    # Inputs kept only in memory for the request (views rotate their own daily keys).
    address: str = ""
    user_agent: str = ""
    network_hash: str = ""
    established: bool = False
    # Signed in with the site's own account (SSO): ``key`` is the account's, on every device.
    signed_in: bool = False


class VerifiedToken(NamedTuple):
    reader_id: str
    minted: int | None  # epoch seconds; None for tokens from before tokens carried a time
    expires: int | None  # epoch seconds; only sign-in tokens expire


def _epoch(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Keyring:
    """Purpose-specific keys derived from the one SECRET_KEY."""

    def __init__(self, secret_key: str, *, established_after: timedelta = timedelta(hours=1)):
        self._secret = secret_key.encode()
        self.established_after = established_after
        self._reader_tokens = URLSafeSerializer(secret_key, salt=READER_TOKEN_SALT)
        self._cursors = URLSafeSerializer(secret_key, salt=CURSOR_SALT)
        # Links in mails name an address by its keyed hash: confirmation links expire, unsubscribe links do not.
        self._mail_confirmations = URLSafeTimedSerializer(secret_key, salt=MAIL_CONFIRMATION_SALT)
        self._unsubscribes = URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)
        self._derived: dict[str, bytes] = {}
        # Every request is identified, and its address (readers behind one address send
        # many) comes back often: its parse and two keyed hashes are kept, a bounded few.
        self._address_facts = functools.lru_cache(maxsize=ADDRESS_FACTS_CACHED)(self._facts_of_address)

    def _key(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = hmac.new(self._secret, purpose.encode(), hashlib.sha256).digest()
            if len(self._derived) > 64:  # daily view keys come and go
                self._derived.clear()
            self._derived[purpose] = key
        return key

    def webhook_secret(self, salt: str) -> str:
        """The signing secret of the webhook with this salt, in Standard Webhooks' ``whsec_`` form.

        Derived, never stored: the database holds only the salt, useless without SECRET_KEY.
        """
        key = hmac.new(self._key("webhook-signing"), salt.encode(), hashlib.sha256).digest()
        return "whsec_" + base64.b64encode(key).decode()

    def keyed_hash(self, purpose: str, value: str) -> str:
        return hmac.new(self._key(purpose), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    # Reader tokens -------------------------------------------------------------
    def mint_reader_token(self, now: datetime) -> str:
        """A new signed reader token that carries its minting time (whole seconds)."""
        return self._reader_tokens.dumps({"r": secrets.token_urlsafe(16), "t": int(now.timestamp())})

    def account_reader_id(self, subject: str) -> str:
        """The reader id of the site's account ``subject``: the same on every device.

        Keyed, so the subject is neither in the token the browser keeps nor in the database.
        """
        return ACCOUNT_READER_PREFIX + self.keyed_hash("sso-subject", subject)[:32]

    def account_reader_key(self, subject: str) -> str:
        """The reader hash (``ReaderIdentity.key``) every row of the account ``subject`` holds."""
        return self.keyed_hash("reader", self.account_reader_id(subject))

    def mint_account_token(self, subject: str, now: datetime, lifetime: timedelta) -> str:
        """A reader token bound to the site's account ``subject``, valid for ``lifetime``."""
        return self._reader_tokens.dumps({
            "r": self.account_reader_id(subject),
            "t": int(now.timestamp()),
            "x": int((now + lifetime).timestamp()),
        })

    def verify_reader_token(self, token: str) -> VerifiedToken | None:
        """The reader id inside a token, its minting time and expiry (epoch seconds), or None.

        Tokens minted before tokens carried a time hold only the id; their time is None.
        """
        if len(token) > MAX_READER_TOKEN_LENGTH:
            return None
        try:
            payload = self._reader_tokens.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            return None
        if isinstance(payload, str):
            return VerifiedToken(payload, None, None)
        if isinstance(payload, dict) and isinstance(payload.get("r"), str) and _epoch(payload.get("t")) is not None:
            expires = _epoch(payload.get("x"))
            if "x" in payload and expires is None:
                return None
            return VerifiedToken(payload["r"], payload["t"], expires)
        return None

    def _facts_of_address(self, address: str) -> tuple[str, str, str]:
        """(client, its keyed hash, its network's keyed hash) of a request's address."""
        client = ClientAddress.parse(address)
        return client.client, self.keyed_hash("address", client.client), self.keyed_hash("network", client.network)

    def identify(
        self, *, token: str | None, address: str, user_agent: str, now: datetime
    ) -> ReaderIdentity | None:
        """Build the reader identity for a request; None when a token was given but is invalid.

        The user agent is cut to MAX_USER_AGENT_LENGTH before anything looks at it.
        """
        client, address_hash, network_hash = self._address_facts(address[:MAX_ADDRESS_LENGTH])
        user_agent = user_agent[:MAX_USER_AGENT_LENGTH]
        established = signed_in = False
        if token is not None:
            verified = self.verify_reader_token(token)
            if verified is None or (verified.expires is not None and now.timestamp() >= verified.expires):
                return None
            reader_id, minted, _ = verified
            key = self.keyed_hash("reader", reader_id)
            signed_in = reader_id.startswith(ACCOUNT_READER_PREFIX)
            # Tokens minted before they carried a time predate this release: old enough. An
            # account is vouched for by the site, however recently it signed in here.
            established = (
                signed_in or minted is None or now.timestamp() - minted >= self.established_after.total_seconds()
            )
        else:
            key = self.keyed_hash("anonymous-reader", f"{client}\x00{user_agent}")
        return ReaderIdentity(
            key,
            address_hash,
            token is not None,
            client,
            user_agent,
            network_hash=network_hash,
            established=established,
            signed_in=signed_in,
        )

    def daily_visitor_hash(self, identity: ReaderIdentity, day: date) -> str:
        """A visitor hash whose key rotates every UTC day (no long-lived visitor identifier)."""
        if identity.has_token:
            return self.keyed_hash(f"view:{day.isoformat()}", "reader\x00" + identity.key)
        return self.keyed_hash(
            f"view:{day.isoformat()}", f"anon\x00{identity.address}\x00{identity.user_agent}"
        )

    def avatar_seed(self, *, reader_key: str, article_key: str, name: str | None, email: str | None) -> str:
        """Identicon seed of one persona: this reader, in this thread, under this name and email.

        Keyed on the posting reader, so posting someone else's email gives an avatar of
        one's own (no e-mail guess can be tested); and on the thread, the name and the
        email, so one reader's named, anonymous and aliased comments cannot be linked by
        their avatars. The same reader keeps one avatar per name in a thread.
        """
        parts = (reader_key, article_key, (name or "").casefold(), (email or "").strip().lower())
        source = "".join(f"{len(part)}:{part}" for part in parts)  # length-prefixed: unambiguous
        return self.keyed_hash("avatar-persona", source)[:16]

    def email_hash(self, email: str) -> str:
        return self.keyed_hash("email", email.strip().lower())

    # Links in mails --------------------------------------------------------------
    def confirmation_token(self, email_hash: str) -> str:
        return self._mail_confirmations.dumps(email_hash)

    def read_confirmation_token(self, token: str, max_age: timedelta) -> str | None:
        """The address hash a confirmation link names; None when forged, malformed or older than ``max_age``."""
        return _mail_token_payload(self._mail_confirmations, token, max_age=int(max_age.total_seconds()))

    def unsubscribe_token(self, email_hash: str) -> str:
        return self._unsubscribes.dumps(email_hash)

    def read_unsubscribe_token(self, token: str) -> str | None:
        """The address hash an unsubscribe link names (they never expire), or None when forged or malformed."""
        return _mail_token_payload(self._unsubscribes, token)

    # Cursors ----------------------------------------------------------------------
    def sign_cursor(self, payload: object) -> str:
        return self._cursors.dumps(payload)

    def read_cursor(self, cursor: str) -> object | None:
        try:
            return self._cursors.loads(cursor)
        except (BadSignature, UnicodeError, ValueError):
            return None


def _mail_token_payload(
    serializer: URLSafeSerializer | URLSafeTimedSerializer, token: str, **options: int
) -> str | None:
    """The string a mail link's token carries, or None; the length is bounded before anything decodes it."""
    if len(token) > MAX_MAIL_TOKEN_LENGTH:
        return None
    try:
        payload = serializer.loads(token, **options)
    except (BadSignature, UnicodeError, ValueError):
        return None
    return payload if isinstance(payload, str) else None


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
