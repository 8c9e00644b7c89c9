"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts (mail tests)."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SmtpServer:
    """Accepts mail on ``url``; ``messages`` are parsed as EmailMessage, with their envelope recipients.

    With ``login`` (user, password) set, it offers AUTH over plain SMTP (loopback only)
    and refuses any other login.
    """

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # as sent, to check headers as mail clients read them
    recipients: list[list[str]] = field(default_factory=list)
    login: tuple[str, str] | None = None
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.raw.append(envelope.content)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == self.login, handled=False)

    def start(self) -> "SmtpServer":
        options: dict[str, Any] = {}
        if self.login is not None:
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port(), **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    @property
    def url(self) -> str:
        assert self._controller is not None
        return f"smtp://127.0.0.1:{self._controller.port}"

    def take(self) -> list[EmailMessage]:
        """The messages received so far, forgetting them."""
        with self._lock:
            taken, self.messages, self.raw, self.recipients = self.messages, [], [], []
        return taken
