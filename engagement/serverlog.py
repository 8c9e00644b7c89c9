"""gunicorn's own output made to keep engagement's promises: logs without client
addresses, errors in engagement's JSON shape.

gunicorn writes the client's address into some error-log lines ("Invalid request from
ip=...", refused proxy requests), while engagement promises that logs never carry one.
``gunicorn.conf.py`` names ``AddressScrubbingLogger`` as gunicorn's ``logger_class``: it
is gunicorn's own logger with ``AddressScrubber`` on the error and access logs.

gunicorn answers requests it cannot parse (a request line over its limit, a malformed
header) itself, before the app sees them, with an HTML page. ``install_json_errors``
makes those answers the JSON error every other layer gives.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.glogging import Logger

from engagement.errors import HTTP_ERROR_CODES

REDACTED = "[address]"
# Runs of the characters an IP literal is made of: one pass, no backtracking.
CANDIDATE = re.compile(r"[0-9A-Fa-f:.]+")
MAX_LITERAL_LENGTH = 45 + 6  # the longest IPv6 text form, plus ":port"
# The server's own sockets, not a client's: "Listening at: http://127.0.0.1:8000 (pid)".
OWN_ADDRESS_MESSAGES = ("Listening at: ",)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _redact(match: re.Match[str]) -> str:
    token = match.group()
    if len(token) > MAX_LITERAL_LENGTH or not any(ch in token for ch in ":."):
        return token
    # "ip=203.0.113.7: ..." ends the literal with punctuation; "203.0.113.7:51234" adds a port.
    for core in (token, token[:-1], token.rpartition(":")[0]):
        if core and _is_ip(core):
            return REDACTED + token[len(core):]
    return token


def scrub_addresses(text: str) -> str:
    """``text`` with every IPv4 and IPv6 address replaced by ``[address]``."""
    return CANDIDATE.sub(_redact, text)


class AddressScrubber(logging.Filter):
    """Rewrites a record's message without IP addresses (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(OWN_ADDRESS_MESSAGES):
            return True
        message = record.getMessage()
        scrubbed = scrub_addresses(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class AddressScrubbingLogger(Logger):
    """gunicorn's logger, with client addresses scrubbed from its error and access logs."""

    scrubber = AddressScrubber()

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if self.scrubber not in log.filters:
                log.addFilter(self.scrubber)


def json_error_response(status: int, reason: str) -> bytes:
    """A whole HTTP response carrying engagement's error shape, for the server to send as is.

    The message is the service's own for the status, never gunicorn's (which quotes what
    the client sent).
    """
    code, message = HTTP_ERROR_CODES.get(status, ("error", reason))
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: Any, status_int: int, reason: str, _message: str) -> None:
    """gunicorn's ``util.write_error``, in engagement's JSON shape."""
    gunicorn_util.write_nonblock(sock, json_error_response(status_int, reason))


def install_json_errors() -> None:
    """Make gunicorn write its own error answers as JSON (gunicorn.conf.py calls this).

    gunicorn has no setting for its error page; its workers call ``util.write_error``,
    so that one function is replaced.
    """
    gunicorn_util.write_error = write_json_error
