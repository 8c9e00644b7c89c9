"""Every moderation route requires a live API token of the right role; none sends CORS headers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engagement.extensions import db
from engagement.models import ApiToken
from tests.factories import assert_error, create_api_token, list_comments, mod_headers, post_comment

MODERATOR_ROUTES = [
    ("GET", "/api/v1/mod/comments", None),
    ("PATCH", "/api/v1/mod/comments/{comment}", {"status": "rejected"}),
    ("POST", "/api/v1/mod/comments/bulk", {"ids": ["{comment}"], "status": "rejected"}),
    ("GET", "/api/v1/mod/comments/{comment}/revisions", None),
    ("PUT", "/api/v1/mod/articles/an-article", {"title": "Title"}),
    ("POST", "/api/v1/mod/bans", {"comment_id": "{comment}", "reason": "troll"}),
    ("GET", "/api/v1/mod/bans", None),
    ("GET", "/api/v1/mod/bans/preview", None),
    ("DELETE", "/api/v1/mod/bans/424242", None),
    ("GET", "/api/v1/mod/blocklist", None),
    ("PUT", "/api/v1/mod/blocklist", {"words": ["spam"]}),
    ("GET", "/api/v1/mod/audit", None),
    ("GET", "/api/v1/mod/stats", None),
    ("GET", "/api/v1/mod/stats/daily", None),
    ("GET", "/api/v1/mod/articles", None),
    ("GET", "/api/v1/mod/me", None),
]
ADMIN_ROUTES = [
    ("DELETE", "/api/v1/mod/comments/{comment}", None),
    ("POST", "/api/v1/mod/webhooks", {"url": "https://hooks.example.org/", "event_types": ["comment.held"]}),
    ("GET", "/api/v1/mod/webhooks", None),
    ("PATCH", "/api/v1/mod/webhooks/424242", {"active": False}),
    ("DELETE", "/api/v1/mod/webhooks/424242", None),
    ("GET", "/api/v1/mod/deliveries", None),
    ("POST", "/api/v1/mod/deliveries/424242/retry", None),
    ("DELETE", "/api/v1/mod/readers/sso/reader-42", None),
]
ALL_ROUTES = MODERATOR_ROUTES + ADMIN_ROUTES


def _fill(value, comment_id):
    if isinstance(value, str):
        return comment_id if value == "{comment}" else value.replace("{comment}", str(comment_id))
    if isinstance(value, list):
        return [_fill(item, comment_id) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, comment_id) for key, item in value.items()}
    return value


def _call(client, route, headers, comment_id):
    method, path, body = route
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["json"] = _fill(body, comment_id)
    return client.open(_fill(path, comment_id), method=method, **kwargs)


@pytest.fixture
def comment(client):
    return post_comment(client, body="Something to moderate")


def _route_id(route):
    return f"{route[0]} {route[1]}"


def test_the_route_lists_cover_every_moderation_route(app):
    registered = {
        (method, rule.rule.replace("<id:comment_id>", "{comment}").replace("<id:ban_id>", "424242")
         .replace("<id:webhook_id>", "424242").replace("<id:delivery_id>", "424242")
         .replace("<article_key:key>", "an-article").replace("<string(maxlength=255):subject>", "reader-42"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/mod/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert registered == {(method, path) for method, path, _ in ALL_ROUTES}


BAD_AUTHORIZATIONS = [
    None, "Bearer", "Bearer ", "Bearer eng_not-a-real-token", "Basic dXNlcjpwYXNz", "eng_bare-token", "Token eng_x",
]


@pytest.mark.parametrize("route", ALL_ROUTES, ids=_route_id)
def test_missing_or_bad_token_is_401(client, comment, route):
    for authorization in BAD_AUTHORIZATIONS:
        headers = {"Authorization": authorization} if authorization is not None else {}
        assert_error(_call(client, route, headers, comment["id"]), 401, "unauthorized")
    # and nothing happened
    assert [c["id"] for c in list_comments(client)["comments"]] == [comment["id"]]


@pytest.mark.parametrize("route", ALL_ROUTES, ids=_route_id)
def test_revoked_token_is_401(app, client, comment, route):
    token = create_api_token(app, "admin", name="leaver")
    result = app.test_cli_runner().invoke(args=["tokens", "revoke", "leaver"])
    assert result.exit_code == 0, result.output
    assert_error(_call(client, route, mod_headers(token), comment["id"]), 401, "unauthorized")


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_moderator_on_an_admin_route_is_403(app, client, comment, route):
    token = create_api_token(app, "moderator")
    assert_error(_call(client, route, mod_headers(token), comment["id"]), 403, "forbidden")
    # nothing was purged
    queue = client.get("/api/v1/mod/comments?status=approved", headers=mod_headers(token)).get_json()
    assert queue["comments"][0]["body_html"] == "<p>Something to moderate</p>"


@pytest.mark.parametrize("route", MODERATOR_ROUTES, ids=_route_id)
def test_moderator_and_admin_may_use_moderator_routes(app, client, comment, route):
    for role in ("moderator", "admin"):
        response = _call(client, route, mod_headers(create_api_token(app, role)), comment["id"])
        assert response.status_code not in (401, 403), (role, response.get_json())
        assert response.status_code < 500


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=_route_id)
def test_admin_may_use_admin_routes(app, client, comment, route):
    response = _call(client, route, mod_headers(create_api_token(app, "admin")), comment["id"])
    # Past authentication and the role check; unknown ids and unresolvable URLs answer 404 and 422.
    assert response.status_code not in (401, 403) and response.status_code < 500, response.get_json()


def test_bearer_scheme_is_case_insensitive(app, client):
    token = create_api_token(app)
    assert client.get("/api/v1/mod/stats", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_token_with_extra_characters_is_401(app, client):
    token = create_api_token(app)
    assert_error(client.get("/api/v1/mod/stats", headers=mod_headers(token + "x")), 401, "unauthorized")
    assert_error(client.get("/api/v1/mod/stats", headers=mod_headers(token[:-1])), 401, "unauthorized")


def test_an_edit_token_is_not_an_api_token(client, comment):
    assert_error(client.get("/api/v1/mod/stats", headers=mod_headers(comment["edit_token"])), 401, "unauthorized")


def test_moderation_routes_send_no_cors_headers(app, client):
    token = create_api_token(app)
    origin = {"Origin": "https://news.example"}
    response = client.get("/api/v1/mod/stats", headers={**mod_headers(token), **origin})
    assert response.status_code == 200
    assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]
    preflight = client.options(
        "/api/v1/mod/comments/1",
        headers={**origin, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "Authorization"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    # while public routes do answer browsers on other origins
    public = client.get("/api/v1/articles/an-article/comments", headers=origin)
    assert public.headers.get("Access-Control-Allow-Origin") in ("*", "https://news.example")


def test_last_use_is_recorded_at_most_once_a_minute(app, client):
    token = create_api_token(app, name="clock-watcher")

    def last_used():
        with app.app_context():
            return db.session.scalar(sa.select(ApiToken.last_used_at).where(ApiToken.name == "clock-watcher"))

    assert last_used() is None
    start = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        assert client.get("/api/v1/mod/stats", headers=mod_headers(token)).status_code == 200
        assert last_used() == start
        clock.shift(timedelta(seconds=30))
        client.get("/api/v1/mod/stats", headers=mod_headers(token))
        assert last_used() == start
        clock.shift(timedelta(seconds=31))
        client.get("/api/v1/mod/stats", headers=mod_headers(token))
        assert last_used() == start + timedelta(seconds=61)


def test_openapi_documents_the_bearer_requirement(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["apiToken"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["apiToken"]["description"],
    }
    mod_operations = [
        operation
        for path, item in spec["paths"].items() if path.startswith("/api/v1/mod/")
        for operation in item.values() if isinstance(operation, dict) and "responses" in operation
    ]
    assert len(mod_operations) == len(ALL_ROUTES)
    for operation in mod_operations:
        assert operation["security"] == [{"apiToken": []}]
        assert {"401", "403"} <= set(operation["responses"])
    public = spec["paths"]["/api/v1/comments/{comment_id}/flags"]["post"]
    assert {"apiToken": []} not in public["security"] and "202" in public["responses"]
