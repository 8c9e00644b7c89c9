"""Dependencies run downward: the HTTP layer uses services, schemas and models, never the reverse."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engagement import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "engagement"
# The app factory and the console script wire the layers together; everything else below
# the HTTP layer must not reach up into it.
WIRING = {PACKAGE / "__init__.py", PACKAGE / "__main__.py"}
BELOW_HTTP = sorted(
    path for path in PACKAGE.rglob("*.py") if PACKAGE / "api" not in path.parents and path not in WIRING
)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


@pytest.mark.parametrize("module", BELOW_HTTP, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_no_module_below_the_http_layer_imports_it(module: Path):
    upward = sorted(
        name for name in _imported_modules(module) if name == "engagement.api" or name.startswith("engagement.api.")
    )
    assert upward == []


HTTP_MODULES = sorted((PACKAGE / "api").glob("*.py"))


def _argument_schemas(path: Path) -> list[ast.expr]:
    """The first argument of every ``@blp.arguments(...)`` decorator in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                        and decorator.func.attr == "arguments" and decorator.args):
                    found.append(decorator.args[0])
    return found


@pytest.mark.parametrize("module", HTTP_MODULES, ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_request_schemas_are_built_once_not_per_request(module: Path):
    """webargs instantiates a schema given as a class on every request (copying all its fields)."""
    classes = [ast.unparse(schema) for schema in _argument_schemas(module) if isinstance(schema, ast.Name)]
    assert classes == []


# Libraries only the delivery worker, sign-on or migrations need: together about 25 MB in
# every web worker that would otherwise load them for nothing.
WORKER_OR_SIGN_ON_ONLY = ("jwt", "httpx", "standardwebhooks", "alembic")
_LOADED_BY_CREATE_APP = """
import json, sys
from engagement import create_app
create_app({overrides})
print(json.dumps(sorted(name for name in {libraries!r} if name in sys.modules)))
"""


def _libraries_loaded_by_create_app(tmp_path: Path, overrides: dict[str, object]) -> list[str]:
    script = _LOADED_BY_CREATE_APP.format(overrides=overrides, libraries=WORKER_OR_SIGN_ON_ONLY)
    environment = {**os.environ, "ENGAGEMENT_INSTANCE_PATH": str(tmp_path)}
    environment.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", script], env=environment, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_web_worker_loads_neither_the_webhook_sender_nor_pyjwt_nor_alembic(tmp_path: Path):
    assert _libraries_loaded_by_create_app(tmp_path, {}) == []


def test_pyjwt_is_loaded_once_sign_on_is_configured(tmp_path: Path):
    loaded = _libraries_loaded_by_create_app(tmp_path, {"SSO_SECRET": "s" * 40, "SSO_AUDIENCE": "news.example"})
    assert loaded == ["jwt"]
