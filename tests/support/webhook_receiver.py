"""A real HTTP receiver on 127.0.0.1 that records every POST it gets (webhook tests)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers ``status`` (after ``delay`` seconds) and keeps what it was sent."""

    status: int = 204
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    arrivals: int = 0  # requests that reached the handler, answered or not yet
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.arrivals += 1
                time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def webhook_ids(self) -> list[str]:
        with self._lock:
            return [request.webhook_id for request in self.received]

    def wait_for(self, count: int, timeout: float = 20.0, *, arrived: bool = False) -> None:
        """Wait until ``count`` requests were answered (or with ``arrived``, reached the handler)."""
        deadline = time.monotonic() + timeout
        while (self.arrivals if arrived else len(self.received)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"received {len(self.received)} of {count} requests")
            time.sleep(0.05)
