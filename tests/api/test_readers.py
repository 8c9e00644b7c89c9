"""Reader tokens and the fallback identity."""
from __future__ import annotations

from tests.factories import DEFAULT_ARTICLE, assert_error, mint_reader, post_comment, reader_headers


def test_mint_reader_token(client):
    response = client.post("/api/v1/readers")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"reader_token"} and len(body["reader_token"]) > 20
    assert mint_reader(client) != body["reader_token"]


def test_valid_token_is_accepted_everywhere(client):
    token = mint_reader(client)
    post_comment(client, headers=reader_headers(token))
    assert client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", headers=reader_headers(token)).status_code == 200


def test_forged_or_mangled_token_is_401_on_any_request(client):
    token = mint_reader(client)
    # Change the signature's first character (its last one may only carry padding bits).
    cut = token.rindex(".") + 1
    forged = token[:cut] + ("A" if token[cut] != "A" else "B") + token[cut + 1:]
    for bad in (forged, "garbage", "a.b.c", "\u00e9t\u00e9"):
        headers = {"X-Reader-Token": bad}
        assert_error(client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", headers=headers), 401, "unauthorized")
        assert_error(
            client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "x"}, headers=headers),
            401, "unauthorized",
        )


def test_token_from_another_secret_key_is_401(app_factory):
    foreign = mint_reader(app_factory(SECRET_KEY="another-secret-key-" + "x" * 40).test_client())
    client = app_factory().test_client()
    assert_error(
        client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", headers=reader_headers(foreign)),
        401, "unauthorized",
    )


def _duplicate_status(client, **headers):
    return client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "echo"}, headers=headers
    ).status_code


def test_fallback_identity_is_address_and_user_agent(client):
    # The duplicate rule is per reader, so it shows whose identity two requests share.
    assert _duplicate_status(client, **{"User-Agent": "Browser A"}) == 201
    assert _duplicate_status(client, **{"User-Agent": "Browser A"}) == 409
    assert _duplicate_status(client, **{"User-Agent": "Browser B"}) == 201


def test_forwarded_address_is_ignored_without_trusted_proxies(client):
    assert _duplicate_status(client, **{"X-Forwarded-For": "203.0.113.1"}) == 201
    assert _duplicate_status(client, **{"X-Forwarded-For": "203.0.113.2"}) == 409


def test_forwarded_address_is_used_behind_a_trusted_proxy(app_factory):
    client = app_factory(TRUSTED_PROXIES=1).test_client()
    assert _duplicate_status(client, **{"X-Forwarded-For": "203.0.113.1"}) == 201
    assert _duplicate_status(client, **{"X-Forwarded-For": "203.0.113.2"}) == 201
    assert _duplicate_status(client, **{"X-Forwarded-For": "203.0.113.2"}) == 409
