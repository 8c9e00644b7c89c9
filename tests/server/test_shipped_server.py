"""Attacks on the shipped server settings over a real socket (issue 10, items 1 and 12).

gunicorn runs with the project's own gunicorn.conf.py and default settings (rate limits on),
as `make run` starts it.
"""
from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.conftest import CLIENT_TIMEOUT_SECONDS, ShippedServer, http_status

pytestmark = pytest.mark.server

LONG_AGENT_CLIENTS = 4
BEACONS_PER_CLIENT = 5


def _request(server: ShippedServer, method: str, path: str, *, body: object = None,
             agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") -> int:
    return http_status(server.base_url + path, method=method, body=body, agent=agent)


def test_long_user_agents_do_not_stall_the_server(shipped_server):
    """Four clients sending 8,000-character agents (each new, so no cache helps) while
    /healthz is asked: before, one such beacon cost 3.6-5 s and /healthz waited 15 s."""

    def attacker(n: int) -> list[int]:
        return [
            _request(shipped_server, "POST", "/api/v1/articles/long-agent/views",
                     agent=(f"Q{n}-{i}-" * 2000)[:8000])
            for i in range(BEACONS_PER_CLIENT)
        ]

    with ThreadPoolExecutor(LONG_AGENT_CLIENTS + 1) as pool:
        attacks = [pool.submit(attacker, n) for n in range(LONG_AGENT_CLIENTS)]
        health = [_request(shipped_server, "GET", "/healthz") for _ in range(10)]
        results = [future.result() for future in attacks]
    assert health == [200] * 10  # each within the client timeout
    assert all(status == 202 for statuses in results for status in statuses)


def test_the_per_reader_comment_limit_holds_as_documented(shipped_server):
    """5 comments a minute per reader: the default server keeps one budget, not one per worker."""
    statuses = [
        _request(shipped_server, "POST", "/api/v1/articles/limited/comments", body={"body": f"comment number {n}"},
                 agent="Mozilla/5.0 (limit-test)")
        for n in range(7)
    ]
    assert statuses == [201] * 5 + [429] * 2


def test_no_control_socket_is_left_in_the_home_directory(shipped_server):
    """gunicorn's control socket would default to ~/.gunicorn/, shared by every instance
    on the host (a failed second start deleted the running one's): it is off."""
    home = shipped_server.log.parent / "home"
    assert _request(shipped_server, "GET", "/healthz") == 200
    assert list(home.iterdir()) == []


def _raw_exchange(server: ShippedServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT_SECONDS) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /api/v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "bad_request"),
    (b"NOT A REQUEST LINE <script>\r\n\r\n", 400, "bad_request"),
])
def test_requests_the_server_cannot_parse_get_the_json_error_shape(shipped_server, request_bytes, status, code):
    answered, headers, body = _raw_exchange(shipped_server, request_bytes)
    assert answered == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
    assert b"<script>" not in body and b"<html>" not in body
