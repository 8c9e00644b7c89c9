"""Reader-facing web assets: the embeddable widget and, in development, the demo article page.

``/embed.js`` and ``/embed.css`` keep stable URLs for site owners (short cache, strong ETag);
``/embed.<hash>.js`` and ``/embed.<hash>.css`` are content-addressed and cached for a year.
The script asks for its stylesheet by hash, so a deploy reaches readers within minutes.
The English message catalogue (``static/lang/en.json``) is built into the script; the other
shipped catalogues are served at ``/embed/lang/<lang>.json`` for the script to fetch.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from jinja2 import Template

from engagement.api.common import ArticleKeyConverter
from engagement.errors import NotFound, ValidationFailed

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSS_PLACEHOLDER = b"__ENGAGEMENT_CSS__"
MESSAGES_PLACEHOLDER = b"/*__ENGAGEMENT_MESSAGES__*/{}"
BUILT_IN_LANGUAGE = "en"
DIGEST_LENGTH = 16

JS_TYPE = "text/javascript; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"

STABLE_CACHE = "public, max-age=300, stale-while-revalidate=86400"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
DEMO_CACHE = "no-cache"
DEMO_ARTICLE = "demo-article"
# The demo proves the widget needs no inline script or style and no eval.
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blp = Blueprint("web", __name__)


@dataclass(frozen=True)
class Asset:
    """A file's bytes as served, with its content type and content hash."""

    body: bytes
    content_type: str
    digest: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> "Asset":
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH])


@dataclass(frozen=True)
class WebAssets:
    script: Asset
    stylesheet: Asset
    demo_page: Template
    demo_script: Asset
    demo_stylesheet: Asset
    catalogues: dict[str, Asset]


def _is_message(value: object) -> bool:
    """A string, or plural forms by CLDR category (``one``, ``few``, ...) that include ``other``."""
    if isinstance(value, str):
        return True
    return isinstance(value, dict) and "other" in value and all(isinstance(form, str) for form in value.values())


def _catalogue(path: Path) -> bytes:
    """A message catalogue, checked and minified. Raises RuntimeError when it is malformed."""
    messages = json.loads(path.read_text("utf-8"))
    if not isinstance(messages, dict) or not all(_is_message(value) for value in messages.values()):
        raise RuntimeError(f"{path.name}: a catalogue maps keys to strings or plural forms with 'other'")
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def load_assets(directory: Path = STATIC_DIR) -> WebAssets:
    """Read the static files once and hash them; the script learns its stylesheet's hash here.

    Raises RuntimeError when embed.js lacks a placeholder or a catalogue is malformed (a broken package).
    """
    stylesheet = Asset.of((directory / "embed.css").read_bytes(), CSS_TYPE)
    catalogues = {path.stem: _catalogue(path) for path in sorted((directory / "lang").glob("*.json"))}
    source = (directory / "embed.js").read_bytes()
    if CSS_PLACEHOLDER not in source or MESSAGES_PLACEHOLDER not in source:
        raise RuntimeError("embed.js must reference its stylesheet and its messages through the placeholders")
    source = source.replace(CSS_PLACEHOLDER, stylesheet.digest.encode())
    script = Asset.of(source.replace(MESSAGES_PLACEHOLDER, catalogues[BUILT_IN_LANGUAGE]), JS_TYPE)
    return WebAssets(
        script=script,
        stylesheet=stylesheet,
        demo_page=Template((directory / "demo.html").read_text("utf-8"), autoescape=True),
        demo_script=Asset.of((directory / "demo.js").read_bytes(), JS_TYPE),
        demo_stylesheet=Asset.of((directory / "demo.css").read_bytes(), CSS_TYPE),
        catalogues={lang: Asset.of(body, JSON_TYPE) for lang, body in catalogues.items()},
    )


@blp.record_once
def _load(state: BlueprintSetupState) -> None:
    state.app.extensions["engagement.web_assets"] = load_assets()


def assets() -> WebAssets:
    return cast(WebAssets, current_app.extensions["engagement.web_assets"])


def serve(asset: Asset, cache_control: str, *, shared: bool = True) -> Response:
    """The asset with a strong ETag; answers 304 when If-None-Match matches."""
    response = Response(asset.body, content_type=asset.content_type)
    response.headers["Cache-Control"] = cache_control
    response.set_etag(asset.digest)
    if shared:
        # Embedded on other sites' pages: readable cross-origin (SRI, COEP pages).
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


def _hashed(asset: Asset, digest: str) -> Response:
    if digest != asset.digest:
        raise NotFound("No such asset version; load /embed.js for the current one.")
    return serve(asset, IMMUTABLE_CACHE)


@blp.get("/embed.js")
def embed_script() -> Response:
    """The widget script (stable URL, revalidated every few minutes)."""
    return serve(assets().script, STABLE_CACHE)


@blp.get("/embed.css")
def embed_stylesheet() -> Response:
    """The widget stylesheet (stable URL); the script itself loads the hashed one."""
    return serve(assets().stylesheet, STABLE_CACHE)


@blp.get("/embed.<digest>.js")
def embed_script_version(digest: str) -> Response:
    """One version of the widget script, cached for good. Unknown version: 404."""
    return _hashed(assets().script, digest)


@blp.get("/embed.<digest>.css")
def embed_stylesheet_version(digest: str) -> Response:
    """One version of the widget stylesheet, cached for good. Unknown version: 404."""
    return _hashed(assets().stylesheet, digest)


@blp.get("/embed/lang/<lang>.json")
def embed_catalogue(lang: str) -> Response:
    """One shipped message catalogue (``en`` included, as the template for a site's own). Unknown: 404."""
    catalogue = assets().catalogues.get(lang)
    if catalogue is None:
        raise NotFound("No catalogue for that language.")
    return serve(catalogue, STABLE_CACHE)


def _require_development() -> None:
    if current_app.config["ENGAGEMENT_ENV"] == "production":
        raise NotFound()


def _demo_article() -> str:
    key = request.args.get("article", DEMO_ARTICLE)
    if not re.fullmatch(ArticleKeyConverter.regex, key):
        raise ValidationFailed({"article": ["1-200 of A-Z a-z 0-9 . _ : - starting with a letter or digit."]})
    return key


@blp.get("/demo")
def demo_page() -> Response:
    """A news-style article page with the widget (development only; 404 in production).

    ``?article=KEY`` picks the article (default ``demo-article``); a malformed key gets 422.
    """
    _require_development()
    html = assets().demo_page.render(article=_demo_article())
    response = Response(html, content_type=HTML_TYPE)
    response.headers["Cache-Control"] = DEMO_CACHE
    response.headers["Content-Security-Policy"] = DEMO_CSP
    return response


@blp.get("/demo.js")
def demo_script() -> Response:
    """The demo page's script (development only)."""
    _require_development()
    return serve(assets().demo_script, DEMO_CACHE, shared=False)


@blp.get("/demo.css")
def demo_stylesheet() -> Response:
    """The demo page's stylesheet (development only)."""
    _require_development()
    return serve(assets().demo_stylesheet, DEMO_CACHE, shared=False)
