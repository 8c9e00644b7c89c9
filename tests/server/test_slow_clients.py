"""The shipped gunicorn settings against hostile clients on a real socket (issue 10, items 10 and 18).

gunicorn runs with the project's own gunicorn.conf.py (only the bind address and the
database differ), so these tests hold the defaults `make run` and production start with:
stalled partial requests must not stop the service answering, malformed requests must
not put client addresses in the log, and an oversized chunked body gets 413.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request

import pytest

from tests.server.conftest import CLIENT_TIMEOUT_SECONDS, ShippedServer

pytestmark = pytest.mark.server

LOG_WAIT_SECONDS = 5


def _stall(server: ShippedServer, partial: bytes) -> socket.socket:
    """A client that sends ``partial`` and then nothing more, keeping the connection open."""
    connection = socket.create_connection((server.host, server.port), timeout=CLIENT_TIMEOUT_SECONDS)
    connection.sendall(partial)
    return connection


def _healthz(server: ShippedServer) -> int:
    with urllib.request.urlopen(server.base_url + "/healthz", timeout=CLIENT_TIMEOUT_SECONDS) as response:
        return response.status


def _wait_for_log(server: ShippedServer, needle: str) -> str:
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        text = server.log_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_stalled_partial_requests_do_not_hold_the_server(shipped_server):
    beacon = b"POST /api/v1/articles/x/views HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
    stalled = [
        _stall(shipped_server, beacon + b"\r\n"),  # headers, then none of the promised body
        # the same with a JSON body promised, which the app waits for (a sync worker is then held)
        _stall(shipped_server, beacon + b"Content-Type: application/json\r\n\r\n"),
        _stall(shipped_server, b"GET /api/v1/arti"),  # half a request line
    ]
    try:
        time.sleep(0.5)  # let the server pick them up
        started = time.monotonic()
        assert [_healthz(shipped_server) for _ in range(5)] == [200] * 5
        assert time.monotonic() - started < CLIENT_TIMEOUT_SECONDS
    finally:
        for connection in stalled:
            connection.close()


def test_malformed_requests_leave_no_client_address_in_the_log(shipped_server):
    with socket.create_connection((shipped_server.host, shipped_server.port), timeout=CLIENT_TIMEOUT_SECONDS) as raw:
        raw.sendall(b"GARBAGE\x01 / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")
    text = _wait_for_log(shipped_server, "Invalid request from")
    lines = [line for line in text.splitlines() if "Invalid request from" in line]
    assert lines, text[-2000:]
    assert all("ip=[address]" in line for line in lines), lines
    client_lines = [line for line in text.splitlines() if "Listening at: " not in line]
    assert not [line for line in client_lines if "127.0.0.1" in line], text[-2000:]


def _post_chunked(server: ShippedServer, body: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CLIENT_TIMEOUT_SECONDS * 2)
    try:
        chunks = (body[start:start + 8192] for start in range(0, len(body), 8192))
        connection.request(
            "POST", "/api/v1/articles/chunked/comments", body=chunks, encode_chunked=True,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_an_oversized_chunked_body_gets_413_and_a_small_one_is_read(shipped_server):
    status, headers, raw = _post_chunked(shipped_server, json.dumps({"body": "x" * (70 * 1024)}).encode())
    assert status == 413, raw
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw)["error"]["code"] == "payload_too_large"

    status, headers, raw = _post_chunked(shipped_server, json.dumps({"body": "chunked but small"}).encode())
    assert status == 201, raw
    assert "Retry-After" not in headers
