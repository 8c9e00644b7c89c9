"""Browser end-to-end fixtures.

The API runs in a real HTTP server on one 127.0.0.1 port; a publisher's page (a copy of the demo
article, its script tag pointing at the API) is served from a second port, so every widget call is
a real cross-origin request. The browser is Debian's Chromium, driven by Playwright for Python;
when it is missing the session installs the ``chromium`` package with apt-get (as CI does on a
clean machine). No browser build is ever downloaded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from engagement import create_app
from engagement.extensions import db
from engagement.models import Base
from tests.conftest import TEST_SECRET_KEY

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # an optional dev dependency: without it the `browser` fixture skips (and fails under CI)
    expect = sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Headless Chromium says "HeadlessChrome", which the view counter rightly ignores as automation;
# the tests play a reader's ordinary browser.
READER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
STATIC = Path(__file__).resolve().parents[2] / "engagement" / "static"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium against live servers (tests/e2e)")


def _install_chromium() -> None:
    """apt-get install chromium when it is missing, as CI does on a clean machine."""
    if CHROMIUM.exists():
        return
    problem = None
    if shutil.which("apt-get") is None:
        problem = "apt-get is not available"
    else:
        # The emoji font only makes the reaction buttons look right in the screenshots.
        command = "apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji"
        if os.geteuid() != 0:
            command = f"sudo -n sh -c '{command}'"
        result = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if result.returncode != 0 or not CHROMIUM.exists():
            problem = f"apt-get install chromium failed: {(result.stderr or result.stdout)[-500:]}"
    if problem:
        _unavailable(f"browser tests need Debian's chromium at {CHROMIUM}; {problem}")


def _unavailable(reason: str) -> None:
    """Skip the browser tests on a developer's machine; under CI they must run, so fail."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


# --- HTTP helpers ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Served:
    """One request the live API answered, as the server saw it."""

    method: str
    path: str
    query: str
    status: int
    if_none_match: str | None


class RequestLog:
    """WSGI middleware that records what the live API answered, e.g. to see a browser's revalidations."""

    def __init__(self, app: Any):
        self.app = app
        self.served: list[Served] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def record(status: str, headers: Any, exc_info: Any = None) -> Any:
            self.served.append(Served(environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""),
                                      int(status.split()[0]), environ.get("HTTP_IF_NONE_MATCH")))
            return start_response(status, headers, exc_info)
        return self.app(environ, record)


class HttpApi:
    """Calls the live API over HTTP, as a site's server or a moderator's tool would."""

    def __init__(self, origin: str, app: Flask, log: RequestLog):
        self.origin = origin
        self.app = app
        self.log = log
        self._moderator_token: str | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.origin + path, data=data, method=method)
        request.add_header("User-Agent", READER_AGENT)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw, status, got = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
            error.close()
        return Reply(status, json.loads(raw) if raw else None, got)

    def ok(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        reply = self.call(method, path, body, headers)
        assert 200 <= reply.status < 300, (method, path, reply.status, reply.body)
        return reply.body

    def reader(self) -> dict[str, str]:
        """Headers of a fresh reader (another person than the browser)."""
        return {"X-Reader-Token": self.ok("POST", "/api/v1/readers")["reader_token"]}

    def moderator(self) -> dict[str, str]:
        """Authorization headers for a moderator token made with `flask tokens create`."""
        if self._moderator_token is None:
            result = self.app.test_cli_runner().invoke(
                args=["tokens", "create", "--name", "e2e-moderator", "--role", "moderator"]
            )
            assert result.exit_code == 0, result.output
            self._moderator_token = result.stdout.strip().splitlines()[-1]
        return {"Authorization": f"Bearer {self._moderator_token}"}

    def post_comment(self, article: str, body: str, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        return self.ok("POST", f"/api/v1/articles/{article}/comments", {"body": body, **fields}, headers)

    def thread(self, article: str) -> dict[str, Any]:
        return self.ok("GET", f"/api/v1/articles/{article}/comments?limit=100")


class PublisherSite:
    """The second origin: a news site's page embedding the widget from the API origin."""

    def __init__(self, server: ThreadingHTTPServer):
        self.server = server
        self.origin = f"http://127.0.0.1:{server.server_address[1]}"
        self.api_origin = ""
        # Extra files the site serves (e.g. its own message catalogue), by path.
        self.files: dict[str, tuple[bytes, str]] = {}

    def url(self, page: str, article: str) -> str:
        return f"{self.origin}/{page}?{urllib.parse.urlencode({'article': article})}"

    def csp(self) -> str:
        api = self.api_origin
        return (
            f"default-src 'self'; script-src 'self' {api}; style-src 'self' {api}; connect-src 'self' {api}; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )


class PublisherHandler(BaseHTTPRequestHandler):
    """/article.html (strict CSP) and /plain.html (no CSP) copy the demo page; plus its assets."""

    site: PublisherSite

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        site = self.site
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path in ("/article.html", "/plain.html"):
            query = f"?{parsed.query}" if parsed.query else ""
            with urllib.request.urlopen(f"{site.api_origin}/demo{query}", timeout=10) as response:
                html = response.read().decode()
            html = html.replace('src="/embed.js"', f'src="{site.api_origin}/embed.js"')
            headers = {"Content-Security-Policy": site.csp()} if parsed.path == "/article.html" else {}
            self._send(200, html.encode(), "text/html; charset=utf-8", headers)
        elif parsed.path in site.files:
            body, content_type = site.files[parsed.path]
            self._send(200, body, content_type, {})
        elif parsed.path in ("/demo.js", "/demo.css"):
            kind = "text/javascript" if parsed.path.endswith(".js") else "text/css"
            self._send(200, (STATIC / parsed.path[1:]).read_bytes(), f"{kind}; charset=utf-8", {})
        else:
            self._send(404, b"not found", "text/plain; charset=utf-8", {})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        return None


@pytest.fixture(scope="session")
def site() -> Iterator[PublisherSite]:
    handler = type("SessionPublisherHandler", (PublisherHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    handler.site = PublisherSite(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler.site
    server.shutdown()
    server.server_close()


@contextmanager
def _serving(folder: Path, site_origins: Callable[[str], list[str]], **overrides: Any) -> Iterator[HttpApi]:
    """The app from the factory on an empty SQLite database in ``folder``, in a threaded server
    on 127.0.0.1; ``site_origins(api_origin)`` are its CORS (and article-naming) origins;
    ``overrides`` are further config keys."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    origin = f"http://127.0.0.1:{server.server_port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENGAGEMENT_INSTANCE_PATH", str(folder / "instance"))
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'engagement.db'}",
            "SECRET_KEY": TEST_SECRET_KEY,
            "ENGAGEMENT_ENV": "development",
            "RATELIMIT_ENABLED": False,
            # Its own SQLite database only: with REDIS_URL in the environment (CI's second pass)
            # its view flusher would move other tests' Redis counts into this database.
            "REDIS_URL": None,
            "LOG_LEVEL": "WARNING",
            "CORS_ORIGINS": site_origins(origin),
            **overrides,
        })
    with app.app_context():
        Base.metadata.create_all(db.engine)
    log = RequestLog(app)
    server.app = log  # bound before the app was built, so the app could know its own origin
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpApi(origin, app, log)
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_api(site: PublisherSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpApi]:
    """The API for the whole session. Only the publisher's origin may call it from a browser:
    CORS is exercised for real."""
    with _serving(tmp_path_factory.mktemp("e2e"), lambda _api_origin: [site.origin]) as api:
        site.api_origin = api.origin
        yield api


@pytest.fixture
def fresh_api(tmp_path: Path) -> Iterator[HttpApi]:
    """An API of its own on an empty database, whose own pages (its /demo) may name their
    articles: as `make run` serves with ENGAGEMENT_CORS_ORIGINS set to its own origin."""
    with _serving(tmp_path, lambda api_origin: [api_origin]) as api:
        yield api


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if sync_playwright is None:
        _unavailable("the playwright package is not installed (pip install playwright; never `playwright install`)")
    _install_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page in a fresh browser profile (a new reader), with what it reported along the way."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No dialog opened, no uncaught script error, nothing blocked by the page's CSP."""
        assert self.dialogs == []
        assert self.errors == []
        assert self.csp_violations == []
        assert self.page.evaluate("() => window.__pwned") is None


@pytest.fixture
def new_tab(browser: Any, live_api: HttpApi) -> Iterator[Any]:
    """Factory: each call opens a page in its own context, so localStorage (the reader) is new."""
    contexts: list[Any] = []

    def open_tab(color_scheme: str = "light", width: int = 1100, height: int = 900) -> Tab:
        context = browser.new_context(
            user_agent=READER_AGENT, viewport={"width": width, "height": height}, color_scheme=color_scheme,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page)
        page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        page.on("console", lambda message: _record_csp(tab, message.text))
        return tab

    yield open_tab
    for context in contexts:
        context.close()


_MOUNT = """([article, attributes, lang]) => {
  const box = document.createElement('div');
  if (lang) box.setAttribute('lang', lang);
  const el = document.createElement('div');
  el.setAttribute('data-engagement-article', article);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  box.append(el);
  document.querySelector('#discussion').append(box);
  return EngagementWidget.mount(el).then(() => true);
}"""


def mount_widget(page: Any, article: str, attributes: dict[str, str] | None = None, lang: str | None = None) -> Any:
    """A second widget beside the demo page's, with these attributes, inside an element with ``lang``."""
    page.evaluate(_MOUNT, [article, attributes or {}, lang])
    return page.locator(f'[data-engagement-article="{article}"][data-engagement-mounted]').last


def _record_csp(tab: Tab, text: str) -> None:
    if "Content Security Policy" in text:
        tab.csp_violations.append(text)
