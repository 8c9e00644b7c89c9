"""Sending mail: SMTP settings from one URL, and a sender built on the standard library.

``ENGAGEMENT_SMTP_URL`` names the server: ``smtp://user:password@host:587?starttls=1``
(plain connection upgraded with STARTTLS), ``smtps://user:password@host:465`` (TLS from
the first byte) or ``smtp://host:25`` (a local relay). User and password are
percent-decoded. Messages are ``email.message.EmailMessage`` objects; smtplib sends them.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
# A mail server that has not answered by then is down for this attempt; well inside a worker's lease.
SMTP_TIMEOUT_SECONDS = 20.0
MAX_SMTP_URL_LENGTH = 2000


class MailNotSent(Exception):
    """The server did not take the message; ``permanent`` when trying again cannot help (5xx)."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "SmtpSettings":
        """Raises ValueError for anything but an smtp:// or smtps:// URL with a host."""
        if len(url) > MAX_SMTP_URL_LENGTH:
            raise ValueError("the SMTP URL is too long")
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("expected smtp://[user:password@]host[:port][?starttls=1] or smtps://...")
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        starttls = options.get("starttls", "0").lower() in {"1", "true", "yes", "on"}
        if starttls and parts.scheme == "smtps":
            raise ValueError("smtps:// is TLS already; starttls=1 is for smtp://")
        return cls(
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            implicit_tls=parts.scheme == "smtps",
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


class Mailer:
    """Sends each message over its own SMTP session: a worker sends few, and a broken
    connection can never leak into the next delivery."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = SMTP_TIMEOUT_SECONDS):
        self._settings = settings
        self._timeout = timeout
        self._tls = ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        if settings.implicit_tls:
            return smtplib.SMTP_SSL(settings.host, settings.port, timeout=self._timeout, context=self._tls)
        return smtplib.SMTP(settings.host, settings.port, timeout=self._timeout)

    def send(self, message: EmailMessage) -> None:
        """Raises MailNotSent: permanent for a 5xx answer, temporary for 4xx, timeouts and refused connections."""
        settings = self._settings
        try:
            with self._connect() as server:
                if settings.starttls:
                    server.starttls(context=self._tls)
                if settings.username:
                    server.login(settings.username, settings.password or "")
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise MailNotSent(
                f"The mail server refused the recipient(s): {sorted(set(codes))}",
                permanent=all(code >= 500 for code in codes), code=max(codes, default=None),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailNotSent(
                f"The mail server answered {exc.smtp_code}.", permanent=exc.smtp_code >= 500, code=exc.smtp_code
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"The mail server could not be reached: {type(exc).__name__}: {exc}") from exc
