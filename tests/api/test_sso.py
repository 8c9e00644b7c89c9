"""Sign-on with the site's accounts: the token exchange, its refusals, verified authors,
ENGAGEMENT_SSO_REQUIRED, and bans, views and reactions that follow the account."""
from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engagement.clock import utcnow
from engagement.config import ConfigurationError, load_config
from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    browser_headers,
    flag_comment,
    get_article,
    list_comments,
    mint_reader,
    post_comment,
    react,
    reader_headers,
    send_view,
    sign_in,
    vote,
)
from tests.support.sso import (
    AUDIENCE,
    SITE_SECRET,
    SSO_SETTINGS,
    JwksServer,
    SigningKey,
    signed_in_headers,
    site_claims,
    site_token,
)

@pytest.fixture
def app(app_factory):
    return app_factory(**SSO_SETTINGS)


# --- the exchange ---------------------------------------------------------------------------

def test_a_site_token_gives_a_reader_token_bound_to_the_account(client):
    signed = sign_in(client, site_token())
    assert signed["me"] == {
        "kind": "account", "verified": True, "name": "Ana Lima", "email": "ana@news.example",
        "url": None, "avatar": "https://news.example/ana.png", "signed_in_at": signed["me"]["signed_in_at"],
    }
    me = client.get("/api/v1/me", headers=reader_headers(signed["reader_token"]))
    assert me.status_code == 200 and me.get_json() == signed["me"]
    assert me.headers["Cache-Control"] == "no-store"
    assert "sub" not in me.get_data(as_text=True) and "reader-42" not in me.get_data(as_text=True)


def test_the_profile_follows_the_latest_sign_in(client):
    sign_in(client, site_token(name="Ana"))
    again = sign_in(client, site_token(name="Ana Lima-Souza", avatar="http://insecure.example/a.png"))
    assert again["me"]["name"] == "Ana Lima-Souza"
    assert again["me"]["avatar"] is None  # only https avatars are taken


def test_me_without_sign_in(client):
    assert client.get("/api/v1/me").get_json()["kind"] == "address"
    token = mint_reader(client)
    assert client.get("/api/v1/me", headers=reader_headers(token)).get_json() == {
        "kind": "token", "verified": False, "name": None, "email": None, "url": None, "avatar": None,
        "signed_in_at": None,
    }


def _forged_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    return ".".join((header, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))


def _unsigned(**claims) -> str:
    return jwt.encode(site_claims(**claims), None, algorithm="none")


NOW_SECONDS = lambda: int(utcnow().timestamp())  # noqa: E731

REFUSALS = {
    "bad signature": (lambda: _forged_signature(site_token()), "sso_bad_signature"),
    "another secret": (lambda: site_token(key="a-different-secret-that-is-long-enough-0123456789-0123456789-0123456789"), "sso_bad_signature"),
    "alg none": (lambda: _unsigned(), "sso_algorithm_not_allowed"),
    "alg not configured": (lambda: site_token(algorithm="HS512"), "sso_algorithm_not_allowed"),
    "expired": (lambda: site_token(iat=NOW_SECONDS() - 3600, exp=NOW_SECONDS() - 61), "sso_expired"),
    "issued in the future": (lambda: site_token(iat=NOW_SECONDS() + 120, exp=NOW_SECONDS() + 600), "sso_not_yet_valid"),
    "not before later": (lambda: site_token(nbf=NOW_SECONDS() + 120), "sso_not_yet_valid"),
    "wrong audience": (lambda: site_token(aud="another-site.example"), "sso_wrong_audience"),
    "no audience": (lambda: site_token(aud=None), "sso_wrong_audience"),
    "no subject": (lambda: site_token(subject=None), "sso_missing_subject"),
    "blank subject": (lambda: site_token(subject="  "), "sso_missing_subject"),
    "subject not a string": (lambda: site_token(subject=42), "sso_missing_subject"),
    "no expiry": (lambda: site_token(exp=None), "sso_invalid"),
    "valid beyond 24 hours": (lambda: site_token(exp=NOW_SECONDS() + 25 * 3600), "sso_invalid"),
    "not a JWT": (lambda: "not-a-jwt", "sso_malformed"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_401_with_a_code_that_says_why(client, case):
    make_token, code = REFUSALS[case]
    error = assert_error(client.post("/api/v1/readers/sso", json={"token": make_token()}), 401, code)
    assert "Traceback" not in error["message"]


def test_clock_skew_within_the_leeway_is_forgiven(client):
    sign_in(client, site_token(iat=NOW_SECONDS() + 30, exp=NOW_SECONDS() + 600))
    sign_in(client, site_token(iat=NOW_SECONDS() - 600, exp=NOW_SECONDS() - 30))


def test_a_body_without_a_token_or_with_a_huge_one_is_refused_cleanly(client):
    assert_error(client.post("/api/v1/readers/sso"), 400, "bad_request")
    assert_error(client.post("/api/v1/readers/sso", json={}), 422, "validation_error")
    assert_error(client.post("/api/v1/readers/sso", json={"token": "x" * 9000}), 422, "validation_error")


def test_without_sign_on_configured_the_exchange_is_404(app_factory):
    client = app_factory().test_client()
    assert_error(client.post("/api/v1/readers/sso", json={"token": site_token()}), 404, "not_found")


def test_the_reader_token_of_a_sign_in_expires(app_factory):
    client = app_factory(**SSO_SETTINGS, SSO_SESSION_DAYS=2).test_client()
    headers = signed_in_headers(client)
    with time_machine.travel(utcnow() + timedelta(days=2, seconds=1), tick=False):
        assert_error(client.get("/api/v1/me", headers=headers), 401, "unauthorized")


@pytest.mark.parametrize(
    "settings",
    [
        {"SSO_SECRET": SITE_SECRET},  # no audience
        {**SSO_SETTINGS, "SSO_ALGORITHMS": ["RS256"]},  # a secret cannot verify RS256
        {"SSO_JWKS_URL": "https://site.example/jwks.json", "SSO_AUDIENCE": AUDIENCE, "SSO_ALGORITHMS": ["HS256"]},
        {**SSO_SETTINGS, "SSO_JWKS_URL": "https://site.example/jwks.json"},  # two kinds of key
        {**SSO_SETTINGS, "SSO_SECRET": "short"},
        {"SSO_REQUIRED": True},  # required, but no key
        {"SSO_JWKS_URL": "http://site.example/jwks.json", "SSO_AUDIENCE": AUDIENCE, "ENGAGEMENT_ENV": "production"},
    ],
)
def test_unsafe_sign_on_settings_stop_the_app(app_factory, settings):
    with pytest.raises(ConfigurationError):
        app_factory(**settings)


# --- public keys: a JWKS served over HTTP, and a key file ------------------------------------

def test_rs256_keys_from_a_jwks_url_are_cached_and_a_rotation_is_picked_up(app_factory):
    first, second = SigningKey.generate("2026-01"), SigningKey.generate("2026-02")
    with JwksServer(first) as jwks:
        client = app_factory(
            SSO_JWKS_URL=jwks.url, SSO_AUDIENCE=AUDIENCE, SSO_JWKS_REFRESH_SECONDS=0
        ).test_client()
        sign_in(client, first.token())
        sign_in(client, first.token(sub="reader-43"))
        assert jwks.fetches == 1  # cached

        jwks.keys = [second]  # the site rotates its key
        assert sign_in(client, second.token())["me"]["name"] == "Ana Lima"
        assert jwks.fetches == 2  # refetched for the unknown key id
        assert_error(client.post("/api/v1/readers/sso", json={"token": first.token()}), 401, "sso_unknown_key")

        # An HMAC-signed token naming a published key id (algorithm confusion) is refused.
        confused = jwt.encode(site_claims(), "x" * 64, algorithm="HS256", headers={"kid": second.kid})
        assert_error(client.post("/api/v1/readers/sso", json={"token": confused}), 401, "sso_algorithm_not_allowed")
        # A token signed by a key the site never published.
        stranger = SigningKey("2026-02", SigningKey.generate("x").private)
        assert_error(client.post("/api/v1/readers/sso", json={"token": stranger.token()}), 401, "sso_bad_signature")


def test_an_unreachable_jwks_is_503_not_a_refusal(app_factory):
    with JwksServer() as jwks:
        url = jwks.url
    client = app_factory(SSO_JWKS_URL=url, SSO_AUDIENCE=AUDIENCE).test_client()
    key = SigningKey.generate("k")
    response = client.post("/api/v1/readers/sso", json={"token": key.token()})
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"]


def test_es256_with_a_public_key_file(app_factory, tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "site.pem"
    key_file.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))
    client = app_factory(
        SSO_PUBLIC_KEY_FILE=str(key_file), SSO_AUDIENCE=AUDIENCE, SSO_ALGORITHMS=["ES256"]
    ).test_client()
    sign_in(client, site_token(private, "ES256"))
    assert_error(client.post("/api/v1/readers/sso", json={"token": site_token()}), 401, "sso_algorithm_not_allowed")


# --- verified authors ----------------------------------------------------------------------

def test_signed_in_comments_carry_the_sites_name_and_the_verified_mark(client, mod):
    headers = signed_in_headers(client)
    posted = post_comment(
        client, headers=headers, author_name="Someone Else", author_email="x@evil.example",
        author_url="https://evil.example",
    )
    assert posted["author"] == {
        "name": "Ana Lima", "url": None, "avatar": "https://news.example/ana.png", "verified": True,
    }
    anonymous = post_comment(client, body="Me too.", author_name="Ana Lima", parent_id=posted["id"])
    assert anonymous["author"]["verified"] is False

    thread = list_comments(client)["comments"]
    assert thread[0]["author"]["verified"] is True
    assert thread[0]["replies"][0]["author"]["verified"] is False

    queue = client.get("/api/v1/mod/comments?status=approved", headers=mod).get_json()["comments"]
    by_id = {comment["id"]: comment for comment in queue}
    assert by_id[posted["id"]]["author"]["verified"] is True
    assert by_id[posted["id"]]["author_email"] == "ana@news.example"  # the site's, not the one sent

    mine = client.get("/api/v1/me/comments", headers=headers).get_json()["comments"]
    assert [(c["id"], c["author"]["verified"]) for c in mine] == [(posted["id"], True)]


def test_openapi_documents_the_verified_mark_and_the_new_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    author = spec["components"]["schemas"]["Author"]
    assert author["properties"]["verified"]["type"] == "boolean" and "verified" in author["required"]
    for path, method in [
        ("/api/v1/readers/sso", "post"), ("/api/v1/me", "get"), ("/api/v1/me", "delete"),
        ("/api/v1/me/comments", "get"), ("/api/v1/mod/readers/sso/{subject}", "delete"),
    ]:
        assert method in spec["paths"][path], (path, method)


# --- ENGAGEMENT_SSO_REQUIRED ---------------------------------------------------------------

def test_sign_in_required_refuses_anonymous_participation_but_not_reading(app_factory):
    client = app_factory(**SSO_SETTINGS, SSO_REQUIRED=True).test_client()
    member = signed_in_headers(client)
    comment = post_comment(client, headers=member)

    for anonymous in ({}, reader_headers(mint_reader(client))):
        assert_error(
            client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "hi"}, headers=anonymous),
            403, "sign_in_required",
        )
        assert_error(client.post(f"/api/v1/comments/{comment['id']}/vote", json={"value": 1}, headers=anonymous),
                     403, "sign_in_required")
        assert_error(client.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like", headers=anonymous),
                     403, "sign_in_required")
        assert_error(client.post(f"/api/v1/comments/{comment['id']}/flags", json={"reason": "spam"}, headers=anonymous),
                     403, "sign_in_required")

    page = list_comments(client)
    assert page["article"]["sign_in_required"] is True and len(page["comments"]) == 1
    assert get_article(client)["comment_count"] == 1
    send_view(client)

    other = signed_in_headers(client, "reader-99", name="Bea", email="bea@news.example")
    vote(client, comment["id"], 1, headers=other)
    react(client, "like", headers=other)
    flag_comment(client, comment["id"], headers=other)


# --- what follows the account ----------------------------------------------------------------

def test_a_ban_from_a_signed_in_comment_bans_the_account_on_every_device(client, mod):
    laptop = signed_in_headers(client)
    comment = post_comment(client, headers=laptop)
    ban = client.post("/api/v1/mod/bans", json={"comment_id": comment["id"], "reason": "abuse"}, headers=mod)
    assert ban.status_code == 201
    listed = client.get("/api/v1/mod/bans", headers=mod).get_data(as_text=True)
    assert "reader-42" not in listed and "hash" not in listed

    # A new sign-in on another device, from another network.
    phone = sign_in(client, site_token())["reader_token"]
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Again"},
        headers=reader_headers(phone), environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert_error(response, 403, "banned")
    # Another account, elsewhere, takes part freely.
    elsewhere = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Hello"},
        headers=signed_in_headers(client, "reader-7", name="Caio", email="caio@news.example"),
        environ_base={"REMOTE_ADDR": "192.0.2.200"},
    )
    assert elsewhere.status_code == 201


def test_views_and_reactions_of_one_account_count_once_across_devices(client):
    laptop = sign_in(client, site_token())["reader_token"]
    with time_machine.travel(utcnow() + timedelta(seconds=5), tick=False):
        phone = sign_in(client, site_token())["reader_token"]
    assert laptop != phone
    assert send_view(client, headers=browser_headers(laptop), address="203.0.113.7") == 1
    assert send_view(client, headers=browser_headers(phone, user_agent="Mobile Safari"), address="198.51.100.4") == 1

    react(client, "like", headers=browser_headers(laptop))
    state = react(client, "like", headers=browser_headers(phone, user_agent="Mobile Safari"))
    assert state["counts"]["like"] == 1 and state["mine"] == ["like"]


def test_an_erased_account_must_sign_in_again(client):
    headers = signed_in_headers(client)
    assert client.delete("/api/v1/me", headers=headers).status_code == 202
    assert_error(
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Back"}, headers=headers),
        401, "unauthorized",
    )
    post_comment(client, body="Back", headers=signed_in_headers(client))


def test_sign_on_is_configured_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), environ={
        "ENGAGEMENT_SSO_SECRET": SITE_SECRET, "ENGAGEMENT_SSO_AUDIENCE": AUDIENCE,
        "ENGAGEMENT_SSO_ALGORITHMS": "HS256, HS512", "ENGAGEMENT_SSO_REQUIRED": "true",
        "ENGAGEMENT_SSO_LEEWAY_SECONDS": "5", "ENGAGEMENT_SSO_SESSION_DAYS": "7",
        "ENGAGEMENT_SSO_JWKS_REFRESH_SECONDS": "0",
    })
    assert (config["SSO_ALGORITHMS"], config["SSO_REQUIRED"], config["SSO_LEEWAY_SECONDS"], config["SSO_SESSION_DAYS"]) == (
        ["HS256", "HS512"], True, 5, 7,
    )
