"""Fixtures shared by the API tests: moderator and admin credentials."""
from __future__ import annotations

import pytest

from tests.factories import create_api_token, mod_headers


@pytest.fixture
def mod(app):
    """Authorization headers of a moderator token named "mod"."""
    return mod_headers(create_api_token(app, "moderator", name="mod"))


@pytest.fixture
def admin(app):
    """Authorization headers of an admin token named "root"."""
    return mod_headers(create_api_token(app, "admin", name="root"))
