"""The moderators' console at /mod: its files, its CSP, and the switch that turns it off."""
from __future__ import annotations

import re

import pytest

from engagement.api.console import CONSOLE_DIR
from engagement.config import load_config

MODULES = sorted(path.name for path in CONSOLE_DIR.glob("*.js"))


def test_the_page_is_served_under_a_strict_policy(client):
    response = client.get("/mod")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy
    assert "require-trusted-types-for 'script'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]
    assert "Set-Cookie" not in response.headers


def test_the_page_has_no_inline_script_style_or_handler():
    page = (CONSOLE_DIR / "index.html").read_text("utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/mod/console.js">']
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


@pytest.mark.parametrize("name", [*MODULES, "console.css"])
def test_every_module_and_the_stylesheet_are_served(client, name):
    response = client.get(f"/mod/{name}")
    assert response.status_code == 200
    assert response.mimetype == ("text/javascript" if name.endswith(".js") else "text/css")
    again = client.get(f"/mod/{name}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_modules_import_only_each_other():
    for name in MODULES:
        source = (CONSOLE_DIR / name).read_text("utf-8")
        for imported in re.findall(r'from "([^"]+)"', source):
            assert imported.startswith("./") and imported[2:] in MODULES, (name, imported)
        # Text from the API goes in as text; HTML only through the sanitiser in dom.js.
        if name != "dom.js":
            assert "innerHTML" not in source and "insertAdjacentHTML" not in source, name


@pytest.mark.parametrize("name", ["index.html", "nope.js", "..%2Fembed.js", "console.js.map"])
def test_anything_else_under_mod_is_404(client, name):
    assert client.get(f"/mod/{name}").status_code == 404


def test_the_console_can_be_turned_off(app_factory):
    client = app_factory(MOD_CONSOLE=False).test_client()
    for path in ("/mod", "/mod/console.js", "/mod/console.css"):
        assert client.get(path).status_code == 404
    assert client.get("/api/v1/mod/stats").status_code == 401  # the API stays


def test_the_environment_variable_switches_it(tmp_path):
    assert load_config(str(tmp_path), {})["MOD_CONSOLE"] is True
    assert load_config(str(tmp_path), {"ENGAGEMENT_MOD_CONSOLE": "false"})["MOD_CONSOLE"] is False
