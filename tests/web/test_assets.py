"""The embeddable widget's assets and the development demo page, through the HTTP layer."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engagement.api.web import load_assets
from tests.factories import assert_error

STATIC = Path(__file__).resolve().parents[2] / "engagement" / "static"
STABLE = "public, max-age=300, stale-while-revalidate=86400"
IMMUTABLE = "public, max-age=31536000, immutable"
ASSETS = [("/embed.js", "text/javascript; charset=utf-8"), ("/embed.css", "text/css; charset=utf-8")]
BUDGET_BYTES = 20 * 1024


def _hashed_path(path: str, digest: str) -> str:
    stem, extension = path.rsplit(".", 1)
    return f"{stem}.{digest}.{extension}"


@pytest.mark.parametrize(("path", "content_type"), ASSETS)
def test_stable_asset_url_is_revalidated_every_few_minutes(
    client: FlaskClient, path: str, content_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == STABLE
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag, weak = response.get_etag()
    assert etag and not weak
    assert etag == hashlib.sha256(response.data).hexdigest()[:16]


@pytest.mark.parametrize(("path", "content_type"), ASSETS)
def test_matching_etag_gets_304_without_body(client: FlaskClient, path: str, content_type: str) -> None:
    etag = client.get(path).headers["ETag"]
    response = client.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == STABLE
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize(("path", "content_type"), ASSETS)
def test_content_hashed_url_is_cached_for_good(client: FlaskClient, path: str, content_type: str) -> None:
    stable = client.get(path)
    digest, _ = stable.get_etag()
    response = client.get(_hashed_path(path, digest))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.data == stable.data
    assert client.get(_hashed_path(path, digest), headers={"If-None-Match": f'"{digest}"'}).status_code == 304


@pytest.mark.parametrize("path", ["/embed.0123456789abcdef.js", "/embed.0123456789abcdef.css", "/embed.x.js"])
def test_unknown_asset_version_is_a_json_404(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


def test_script_loads_the_stylesheet_by_its_current_hash(client: FlaskClient) -> None:
    script = client.get("/embed.js").get_data(as_text=True)
    css_digest, _ = client.get("/embed.css").get_etag()
    assert "__ENGAGEMENT_CSS__" not in script
    assert f"/embed.{css_digest}.css" in script
    assert client.get(f"/embed.{css_digest}.css").status_code == 200


@pytest.mark.parametrize(("path", "content_type"), ASSETS)
def test_assets_can_be_embedded_from_any_origin(client: FlaskClient, path: str, content_type: str) -> None:
    response = client.get(path, headers={"Origin": "https://news.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_script_and_stylesheet_fit_the_size_budget(client: FlaskClient) -> None:
    """JS + CSS as served, each gzipped as a server or proxy would send it, stay under 20 KB."""
    sizes = {path: len(gzip.compress(client.get(path).data, compresslevel=9)) for path, _ in ASSETS}
    assert sum(sizes.values()) < BUDGET_BYTES, sizes


def test_widget_source_avoids_unsafe_sinks() -> None:
    """Only body_html is parsed as HTML (into an inert template); nothing needs eval or inline style."""
    source = (STATIC / "embed.js").read_text("utf-8")
    assert re.findall(r"\w+\.innerHTML\s*=", source) == ["tpl.innerHTML ="]
    for forbidden in (r"\beval\s*\(", r"new\s+Function", r"insertAdjacentHTML", r"outerHTML", r"document\.write",
                      r"\.style\b", r"""["']style["']""", r"setTimeout\(\s*[\"']", r"\bon[a-z]+\s*="):
        assert not re.search(forbidden, source), forbidden


def test_demo_page_is_served_in_development_under_a_strict_csp(client: FlaskClient) -> None:
    response = client.get("/demo")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.get_data(as_text=True)
    assert 'data-engagement-article="demo-article"' in html
    assert '<script src="/embed.js" async></script>' in html
    assert "Drop a thought below" in html and "Most read" in html
    # Every script is external and nothing is styled inline.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html
    for path in ("/demo.js", "/demo.css"):
        assert client.get(path).status_code == 200


def test_demo_page_takes_the_article_key_from_the_query(client: FlaskClient) -> None:
    html = client.get("/demo?article=other-story_2").get_data(as_text=True)
    assert 'data-engagement-article="other-story_2"' in html
    error = assert_error(client.get('/demo?article="><script>'), 422, "validation_error")
    assert set(error["fields"]) == {"article"}


def test_demo_is_off_in_production(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(ENGAGEMENT_ENV="production").test_client()
    for path in ("/demo", "/demo.js", "/demo.css"):
        assert_error(client.get(path), 404, "not_found")
    assert client.get("/embed.js").status_code == 200


def test_package_files_are_not_exposed_as_a_static_folder(client: FlaskClient) -> None:
    assert_error(client.get("/static/demo.html"), 404, "not_found")


# --- message catalogues ---------------------------------------------------------------------------

LANG = STATIC / "lang"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _catalogue(lang: str) -> dict[str, object]:
    return json.loads((LANG / f"{lang}.json").read_text("utf-8"))


def _placeholders(message: object) -> set[str]:
    forms = message.values() if isinstance(message, dict) else [message]
    return {name for form in forms for name in PLACEHOLDER.findall(str(form))}


@pytest.mark.parametrize("lang", sorted(path.stem for path in LANG.glob("*.json") if path.stem != "en"))
def test_shipped_catalogues_translate_every_english_message(lang: str) -> None:
    """Same keys, plural forms where English has them (with 'other'), and the same placeholders."""
    english, translated = _catalogue("en"), _catalogue(lang)
    assert set(translated) == set(english)
    for key, message in english.items():
        assert isinstance(translated[key], dict) == isinstance(message, dict), key
        if isinstance(message, dict):
            assert "other" in translated[key], key  # type: ignore[operator]
        assert _placeholders(translated[key]) == _placeholders(message), key


def test_english_is_built_into_the_script(client: FlaskClient) -> None:
    script = client.get("/embed.js").get_data(as_text=True)
    assert "__ENGAGEMENT_MESSAGES__" not in script
    built_in = json.dumps(_catalogue("en"), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert f"Object.freeze({built_in})" in script


@pytest.mark.parametrize("lang", ["de", "fr", "en"])
def test_catalogues_are_served_for_any_origin_and_revalidated(client: FlaskClient, lang: str) -> None:
    response = client.get(f"/embed/lang/{lang}.json", headers={"Origin": "https://news.example"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == STABLE
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json() == _catalogue(lang)
    assert client.get(f"/embed/lang/{lang}.json", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/embed/lang/xx.json", "/embed/lang/..%2fembed.json", "/embed/lang/de.js"])
def test_unknown_catalogue_is_a_json_404(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("broken", ['["a list"]', '{"comments": {"one": "{n} comment"}}', '{"sort": 3}', "{"])
def test_a_malformed_catalogue_stops_the_start(tmp_path: Path, broken: str) -> None:
    for path in STATIC.glob("*.*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(LANG, tmp_path / "lang")
    (tmp_path / "lang" / "xx.json").write_text(broken, "utf-8")
    with pytest.raises((RuntimeError, ValueError)):
        load_assets(tmp_path)
