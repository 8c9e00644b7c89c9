"""`flask tokens create|list|revoke`: tokens are shown once, stored hashed, revocable."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import ApiToken
from tests.factories import assert_error, create_api_token, mod_headers


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def created_token(result):
    assert result.exit_code == 0, result.output
    [token] = [line for line in result.stdout.splitlines() if line.startswith("eng_")]
    return token


def test_create_prints_a_prefixed_token_once_and_stores_only_its_hash(app, client, cli):
    token = created_token(cli("tokens", "create", "--name", "alice", "--role", "moderator"))
    assert len(token) > 40
    assert client.get("/api/v1/mod/stats", headers=mod_headers(token)).status_code == 200
    with app.app_context():
        stored = db.session.scalars(sa.select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.name, stored.token_hash)

    listing = cli("tokens", "list")
    assert listing.exit_code == 0
    assert token not in listing.output and stored.token_hash not in listing.output


def test_created_tokens_are_unique_and_roles_are_kept(client, cli):
    admin = created_token(cli("tokens", "create", "--name", "root", "--role", "admin"))
    moderator = created_token(cli("tokens", "create", "--name", "bob", "--role", "moderator"))
    assert admin != moderator
    assert client.delete("/api/v1/mod/comments/424242", headers=mod_headers(admin)).status_code == 404
    assert_error(client.delete("/api/v1/mod/comments/424242", headers=mod_headers(moderator)), 403, "forbidden")


def test_list_shows_name_role_created_last_used_and_revoked(client, cli):
    token = created_token(cli("tokens", "create", "--name", "alice", "--role", "moderator"))
    created_token(cli("tokens", "create", "--name", "root", "--role", "admin"))
    lines = cli("tokens", "list").output.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "CREATED", "LAST", "USED", "REVOKED"]
    alice = lines[1].split()
    assert alice[:2] == ["alice", "moderator"] and alice[3:] == ["-", "-"]
    assert lines[2].split()[:2] == ["root", "admin"]

    client.get("/api/v1/mod/stats", headers=mod_headers(token))
    assert cli("tokens", "revoke", "alice").exit_code == 0
    alice = cli("tokens", "list").output.splitlines()[1].split()
    assert alice[3] != "-" and alice[4] != "-"


def test_revoke_stops_the_token_at_once(client, cli):
    token = created_token(cli("tokens", "create", "--name", "alice", "--role", "admin"))
    result = cli("tokens", "revoke", "alice")
    assert result.exit_code == 0 and "alice" in result.output
    assert_error(client.get("/api/v1/mod/stats", headers=mod_headers(token)), 401, "unauthorized")


def test_revoking_twice_or_an_unknown_name_fails(cli):
    created_token(cli("tokens", "create", "--name", "alice", "--role", "moderator"))
    assert cli("tokens", "revoke", "alice").exit_code == 0
    again = cli("tokens", "revoke", "alice")
    assert again.exit_code == 1 and "already revoked" in again.output
    unknown = cli("tokens", "revoke", "nobody")
    assert unknown.exit_code == 1 and "nobody" in unknown.output


def test_a_name_is_used_once(app, client, cli):
    first = created_token(cli("tokens", "create", "--name", "alice", "--role", "moderator"))
    result = cli("tokens", "create", "--name", "alice", "--role", "admin")
    assert result.exit_code == 1 and "already exists" in result.output
    assert "eng_" not in result.output
    assert client.get("/api/v1/mod/stats", headers=mod_headers(first)).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "alice", "--role", "superuser"],
        ["--name", "alice"],
        ["--role", "admin"],
        ["--name", "   ", "--role", "admin"],
        ["--name", "x" * 81, "--role", "admin"],
    ],
)
def test_bad_create_arguments_fail_without_a_token(app, cli, args):
    result = cli("tokens", "create", *args)
    assert result.exit_code != 0
    assert "eng_" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_token_changes_are_audited_as_the_cli(app, client, cli):
    created_token(cli("tokens", "create", "--name", "alice", "--role", "moderator"))
    cli("tokens", "revoke", "alice")
    reader = mod_headers(create_api_token(app, "moderator", name="auditor"))
    entries = client.get("/api/v1/mod/audit", headers=reader).get_json()["entries"]
    by_target = [(e["actor"], e["action"], e["details"]) for e in entries if e["target"] == "token:alice"]
    assert by_target == [
        ("cli", "token.revoke", {"role": "moderator"}),
        ("cli", "token.create", {"role": "moderator"}),
    ]
