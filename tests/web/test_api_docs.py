"""The browsable API reference at /api/v1/docs, through the HTTP layer."""
from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engagement.api.reference import PAGE_PATH
from engagement.api.web import STATIC_DIR
from tests.factories import assert_error

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "png": "image/png",
}
ORIGIN = {"Origin": "https://news.example"}
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers")


class _Page(HTMLParser):
    """What a page loads (every src and href), its scripts and any inline style."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.references += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "style" or "style" in attributes:
            self.inline_styles += 1


def _page(client: FlaskClient) -> _Page:
    parser = _Page()
    parser.feed(client.get(PAGE_PATH).get_data(as_text=True))
    return parser


def _assets(client: FlaskClient) -> list[str]:
    return [reference for reference in _page(client).references if reference.startswith(f"{PAGE_PATH}/")]


@pytest.fixture
def production(app_factory: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    return lambda **overrides: app_factory(ENGAGEMENT_ENV="production", **overrides).test_client()


def test_page_is_served_in_development_under_a_csp_that_allows_nothing_external(client: FlaskClient) -> None:
    response = client.get(PAGE_PATH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-cache"
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    assert "http" not in html and "//" not in html  # no other origin, not even scheme-relative


def test_page_loads_only_its_own_files_and_no_inline_script_or_style(client: FlaskClient) -> None:
    page = _page(client)
    assert page.references and all(reference.startswith(f"{PAGE_PATH}/") for reference in page.references)
    assert page.scripts and all(script.get("src") for script in page.scripts)
    assert page.inline_styles == 0
    names = {reference.rsplit("/", 1)[1] for reference in page.references}
    assert {re.sub(r"\.[0-9a-f]{16}\.", ".", name) for name in names} == {
        "swagger-ui-bundle.js", "swagger-ui.css", "index.css", "favicon-32x32.png", "reference.js",
    }


def test_page_is_revalidated_by_its_etag(client: FlaskClient) -> None:
    etag = client.get(PAGE_PATH).headers["ETag"]
    response = client.get(PAGE_PATH, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert client.get(PAGE_PATH, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_files_are_content_addressed_and_cached_for_good(client: FlaskClient) -> None:
    for path in _assets(client):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == CONTENT_TYPES[path.rsplit(".", 1)[1]]
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        etag, weak = response.get_etag()
        assert not weak and f".{etag}." in path
        assert b"sourceMappingURL" not in response.data  # the maps are not served
        conditional = client.get(path, headers={"If-None-Match": f'"{etag}"'})
        assert conditional.status_code == 304 and conditional.data == b""


def test_initialiser_points_swagger_ui_at_our_document_and_nowhere_else(client: FlaskClient) -> None:
    (path,) = [asset for asset in _assets(client) if "/reference." in asset]
    source = client.get(path).get_data(as_text=True)
    assert source == (STATIC_DIR / "reference.js").read_text("utf-8")
    assert "validatorUrl: null" in source
    assert "queryConfigEnabled: false" in source
    assert "http" not in source and "//" not in re.sub(r"^\s*//.*$", "", source, flags=re.MULTILINE)


def test_no_cors_headers_on_the_page_or_its_files(client: FlaskClient) -> None:
    for path in [PAGE_PATH, *_assets(client)]:
        for response in (client.get(path, headers=ORIGIN), client.options(path, headers=ORIGIN)):
            assert not any(header in response.headers for header in CORS_HEADERS), path
    # The public API itself still answers other origins.
    assert "Access-Control-Allow-Origin" in client.get("/api/v1/counts?articles=a", headers=ORIGIN).headers


def test_not_a_path_of_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path.startswith(PAGE_PATH)]


def test_a_page_load_is_not_rate_limited(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(RATELIMIT_ENABLED=True).test_client()
    paths = [PAGE_PATH, *_assets(client)]
    for _ in range(30):
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize(
    "name",
    [
        "swagger-ui.css",  # a real file, but only its content-addressed name is served
        "swagger-ui-bundle.js.map",
        "swagger-ui-standalone-preset.js",
        "index.html",
        "oauth2-redirect.html",
        "swagger-initializer.js",
        "swagger-ui.0000000000000000.css",
        "reference.html",
        "demo.js",
        "..",
        "..%2f..%2fconfig.py",
        "..%252f..%252fconfig.py",
        "%2e%2e%2f%2e%2e%2fconfig.py",
        "%2e%2e/%2e%2e/config.py",
        "..%5c..%5cconfig.py",
        "....%2f%2f__init__.py",
        "%2fetc%2fpasswd",
        "reference.js%00",
    ],
)
def test_anything_but_the_listed_files_is_a_json_404(client: FlaskClient, name: str) -> None:
    assert_error(client.get(f"{PAGE_PATH}/{name}"), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/api/v1/docs/../../config.py", "/api/v1/docs/../api/web.py", "/api/v1/docs/./index.css"]
)
def test_unnormalised_paths_are_a_json_404(client: FlaskClient, path: str) -> None:
    response = client.get("/", environ_overrides={"PATH_INFO": path})
    assert_error(response, 404, "not_found")


def test_off_in_production_the_page_and_files_are_json_404s(
    client: FlaskClient, production: Callable[..., FlaskClient]
) -> None:
    off = production()
    for path in [PAGE_PATH, *_assets(client)]:
        assert_error(off.get(path), 404, "not_found")
    assert off.get("/api/v1/openapi.json").status_code == 200


def test_off_adds_no_routes_and_loads_nothing(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(ENGAGEMENT_ENV="production")
    assert not [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PAGE_PATH)]
    assert "reference" not in app.blueprints
    assert "engagement.reference" not in app.extensions


def test_production_with_api_docs_on_serves_it(
    client: FlaskClient, production: Callable[..., FlaskClient]
) -> None:
    on = production(API_DOCS=True)
    assert on.get(PAGE_PATH).headers["Content-Security-Policy"] == CSP
    for path in _assets(client):
        assert on.get(path).status_code == 200


@pytest.mark.parametrize(("environment", "setting", "served"), [
    ("production", "true", True),
    ("production", "false", False),
    ("development", "false", False),
    ("development", "true", True),
])
def test_the_environment_variable_wins_over_the_environment_default(
    app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, environment: str, setting: str, served: bool
) -> None:
    monkeypatch.setenv("ENGAGEMENT_ENV", environment)
    monkeypatch.setenv("ENGAGEMENT_API_DOCS", setting)
    client = app_factory().test_client()
    assert client.get(PAGE_PATH).status_code == (200 if served else 404)
