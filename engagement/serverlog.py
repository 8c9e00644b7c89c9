"""gunicorn's logs without client addresses.

gunicorn writes the client's address into some error-log lines ("Invalid request from
ip=...", refused proxy requests), while engagement promises that logs never carry one.
``gunicorn.conf.py`` names ``AddressScrubbingLogger`` as gunicorn's ``logger_class``: it
is gunicorn's own logger with ``AddressScrubber`` on the error and access logs.
"""
from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from gunicorn.glogging import Logger

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
