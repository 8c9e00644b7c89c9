"""The moderators' console at ``/mod``: a static page and its JavaScript modules and stylesheet.

Registered only when MOD_CONSOLE is on (the default), so with it off the paths are plain
404s. The page holds no data and no secret: it asks for an API token, keeps it in the
tab's sessionStorage and calls the moderation API like any other client, which checks
the token on every request. The files are read once at startup and served from a mapping
by name, never joined to a path; they are revalidated by ETag (no-cache), since modules
import each other by their plain names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, cast

from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState

from engagement.api.web import CSS_TYPE, HTML_TYPE, JS_TYPE, STATIC_DIR, Asset, serve
from engagement.errors import NotFound

PAGE_PATH = "/mod"
CONSOLE_DIR = STATIC_DIR / "mod"
FILE_TYPES = {".js": JS_TYPE, ".css": CSS_TYPE}
CACHE = "no-cache"

# No inline script or style, no eval, nothing from another origin; HTML reaches the DOM only
# through the page's one Trusted Types policy (the comment-body sanitiser). The browser tests
# fail on any violation.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    "require-trusted-types-for 'script'; trusted-types engagement-console"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
FILE_HEADERS = {"Cross-Origin-Resource-Policy": "same-origin"}

blp = Blueprint("console", __name__)


@dataclass(frozen=True)
class ConsoleAssets:
    page: Asset
    files: Mapping[str, Asset]  # file name -> file


def load_console() -> ConsoleAssets:
    """Read the page and every script and stylesheet beside it, once."""
    files = {
        path.name: Asset.of(path.read_bytes(), FILE_TYPES[path.suffix])
        for path in sorted(CONSOLE_DIR.iterdir())
        if path.suffix in FILE_TYPES
    }
    return ConsoleAssets(page=Asset.of((CONSOLE_DIR / "index.html").read_bytes(), HTML_TYPE), files=files)


@blp.record_once
def _load(state: BlueprintSetupState) -> None:
    state.app.extensions["engagement.console"] = load_console()


def _assets() -> ConsoleAssets:
    return cast(ConsoleAssets, current_app.extensions["engagement.console"])


@blp.get(PAGE_PATH)
def console_page() -> Response:
    """The moderators' console (when MOD_CONSOLE is on)."""
    response = serve(_assets().page, CACHE, shared=False)
    response.headers.update(PAGE_HEADERS)
    return response


@blp.get(f"{PAGE_PATH}/<name>")
def console_file(name: str) -> Response:
    """One of the console's scripts or its stylesheet, by name; anything else 404."""
    asset = _assets().files.get(name)
    if asset is None:
        raise NotFound()
    response = serve(asset, CACHE, shared=False)
    response.headers.update(FILE_HEADERS)
    return response
