"""The browsable API reference at ``/api/v1/docs``: Swagger UI over ``/api/v1/openapi.json``.

Registered only when API_DOCS is on (by default in development, not in production), so
with it off the paths are plain 404s and no other request does any work for it.

flask-smorest can serve Swagger UI itself (OPENAPI_SWAGGER_UI_*), but its page starts the
UI with an inline script and by default loads it from a CDN. This blueprint serves the
files of the swagger-ui-bundle package and a small initialiser of our own, all from this
origin, under a CSP that allows nothing else. The page is outside flask-smorest's
blueprints, so it is not a path of the OpenAPI document.

Only the files named in VENDOR_FILES and OWN_FILES are served, by content-addressed names
(``swagger-ui.<hash>.css``) looked up in a mapping built at startup, never joined to a
path; they are cached for good, and the page itself is revalidated by its ETag.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, cast

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState
from jinja2 import Template
from swagger_ui_bundle import swagger_ui_path

from engagement.api.web import CSS_TYPE, HTML_TYPE, IMMUTABLE_CACHE, JS_TYPE, STATIC_DIR, Asset, serve
from engagement.errors import NotFound

PAGE_PATH = "/api/v1/docs"
SPEC_PATH = "/api/v1/openapi.json"
PNG_TYPE = "image/png"

# Of swagger-ui-bundle's directory, only what the page loads (no standalone preset: the
# base layout needs no top bar, whose URL box could point the page at another document).
VENDOR_FILES = {
    "swagger-ui-bundle.js": JS_TYPE,
    "swagger-ui.css": CSS_TYPE,
    "index.css": CSS_TYPE,
    "favicon-32x32.png": PNG_TYPE,
}
OWN_FILES = {"reference.js": JS_TYPE}

# Swagger UI needs no inline script or style and no eval; its stylesheet draws icons as
# data: images. It fetches the document (and, with "Try it out", the API) from this
# origin. The browser test fails on any violation of this policy.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_CACHE = "no-cache"  # revalidated by ETag, so a deploy shows at once
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Cross-Origin-Resource-Policy": "same-origin",
}
ASSET_HEADERS = {"Cross-Origin-Resource-Policy": "same-origin"}

# The vendor files end by naming source maps, which are not served; dropping the comment
# keeps a browser with developer tools open from asking for them.
_SOURCE_MAP_COMMENT = re.compile(rb"\n(?://# sourceMappingURL=[^\n]*|/\*# sourceMappingURL=[^\n]*\*/)\s*\Z")

blp = Blueprint("reference", __name__)


@dataclass(frozen=True)
class ReferenceAssets:
    page: Asset
    files: Mapping[str, Asset]  # content-addressed name -> file


def _hashed_name(name: str, digest: str) -> str:
    stem, extension = name.rsplit(".", 1)
    return f"{stem}.{digest}.{extension}"


def _read(path: Path, content_type: str) -> Asset:
    body = path.read_bytes()
    if content_type != PNG_TYPE:
        body = _SOURCE_MAP_COMMENT.sub(b"\n", body)
    return Asset.of(body, content_type)


def load_reference(vendor_dir: Path = Path(str(swagger_ui_path)), static_dir: Path = STATIC_DIR) -> ReferenceAssets:
    """Read the allowed files once, name them by content hash and render the page with those names."""
    sources = {name: vendor_dir / name for name in VENDOR_FILES} | {name: static_dir / name for name in OWN_FILES}
    types = VENDOR_FILES | OWN_FILES
    files: dict[str, Asset] = {}
    urls: dict[str, str] = {}
    for name, path in sources.items():
        asset = _read(path, types[name])
        served = _hashed_name(name, asset.digest)
        files[served] = asset
        urls[name] = f"{PAGE_PATH}/{served}"
    template = Template((static_dir / "reference.html").read_text("utf-8"), autoescape=True)
    page = Asset.of(template.render(urls=urls, spec_url=SPEC_PATH).encode(), HTML_TYPE)
    return ReferenceAssets(page=page, files=files)


@blp.record_once
def _load(state: BlueprintSetupState) -> None:
    state.app.extensions["engagement.reference"] = load_reference()


def _assets() -> ReferenceAssets:
    return cast(ReferenceAssets, current_app.extensions["engagement.reference"])


@blp.get(PAGE_PATH)
def reference_page() -> Response:
    """Swagger UI for this service's OpenAPI document (when API_DOCS is on)."""
    response = serve(_assets().page, PAGE_CACHE, shared=False)
    response.headers.update(PAGE_HEADERS)
    return response


@blp.get(f"{PAGE_PATH}/<name>")
def reference_file(name: str) -> Response:
    """One of the page's files by its content-addressed name, cached for good; anything else 404."""
    asset = _assets().files.get(name)
    if asset is None:
        raise NotFound()
    response = serve(asset, IMMUTABLE_CACHE, shared=False)
    response.headers.update(ASSET_HEADERS)
    return response
