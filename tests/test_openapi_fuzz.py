"""Schemathesis against the service's own OpenAPI document: no 5xx, documented responses.

Examples are bounded per operation (hypothesis settings below) so the whole run stays
within a couple of minutes on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from engagement import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.factories import create_api_token, mod_headers, post_comment

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def fuzz_app(app_factory):
    app = app_factory()
    client = app.test_client()
    # Some data for the generated requests to hit: an article, comments, a reply.
    top = post_comment(client, "fuzz", body="seed comment")
    post_comment(client, "fuzz", body="seed reply", parent_id=top["id"])
    app.config["FUZZ_ADMIN_TOKEN"] = create_api_token(app, role="admin", name="fuzzer")
    return app


# The document is read from an app built at collection time (it needs no database);
# each generated request then goes to the test's own app, passed to ``call_and_validate``.
_document_app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": TEST_SECRET_KEY})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_generated_requests_get_documented_answers_and_never_5xx(case, fuzz_app):
    case.call_and_validate(
        app=fuzz_app, headers=mod_headers(fuzz_app.config["FUZZ_ADMIN_TOKEN"]), checks=CHECKS
    )
