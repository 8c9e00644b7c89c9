"""Rate limits: budgets per reader and per address, 429 in the error shape, shared via Redis."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.factories import DEFAULT_ARTICLE, assert_error, mint_reader, reader_headers

COMMENTS = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"


def _limits(comments=("3/minute", "100/minute"), readers=("100/minute", "100/minute")):
    from engagement.config import DEFAULT_RATE_LIMITS

    return {**DEFAULT_RATE_LIMITS, "comments": comments, "readers": readers}


def _post(client, n, headers=None, **environ):
    return client.post(
        COMMENTS, json={"body": f"comment number {n}"}, headers=headers or {}, environ_base=environ
    )


@pytest.fixture
def limited(app_factory):
    return app_factory(RATELIMIT_ENABLED=True, RATE_LIMITS=_limits(), REDIS_URL=None).test_client()


def test_request_over_the_budget_gets_429_with_retry_after(limited):
    token = mint_reader(limited)
    for n in range(3):
        assert _post(limited, n, reader_headers(token)).status_code == 201
    response = _post(limited, 99, reader_headers(token))
    error = assert_error(response, 429, "rate_limited")
    assert "slow down" in error["message"].lower()
    assert int(response.headers["Retry-After"]) > 0


def test_readers_are_limited_separately(limited):
    first, second = mint_reader(limited), mint_reader(limited)
    for n in range(3):
        assert _post(limited, n, reader_headers(first)).status_code == 201
    assert _post(limited, 3, reader_headers(first)).status_code == 429
    assert _post(limited, 4, reader_headers(second)).status_code == 201


def test_fallback_identity_is_limited_per_address_and_agent(limited):
    for n in range(3):
        assert _post(limited, n, REMOTE_ADDR="198.51.100.1").status_code == 201
    assert _post(limited, 3, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert _post(limited, 4, REMOTE_ADDR="198.51.100.2").status_code == 201


def test_per_address_budget_caps_many_tokens_from_one_address(app_factory):
    client = app_factory(
        RATELIMIT_ENABLED=True, RATE_LIMITS=_limits(comments=("5/minute", "4/minute")), REDIS_URL=None
    ).test_client()
    statuses = [_post(client, n, reader_headers(mint_reader(client))).status_code for n in range(5)]
    assert statuses == [201, 201, 201, 201, 429]


def test_token_minting_is_limited_per_address(app_factory):
    client = app_factory(RATELIMIT_ENABLED=True, RATE_LIMITS=_limits(readers=("2/minute", "2/minute"))).test_client()
    assert [client.post("/api/v1/readers").status_code for _ in range(3)] == [201, 201, 429]


def test_limits_can_be_turned_off(app_factory):
    client = app_factory(RATELIMIT_ENABLED=False, RATE_LIMITS=_limits(comments=("1/minute", "1/minute"))).test_client()
    assert [_post(client, n).status_code for n in range(4)] == [201] * 4


def test_limits_fail_open_when_redis_is_unreachable(app_factory, caplog):
    caplog.set_level("WARNING")
    client = app_factory(
        RATELIMIT_ENABLED=True, RATE_LIMITS=_limits(comments=("1/minute", "1/minute")), REDIS_URL="redis://127.0.0.1:1/0"
    ).test_client()
    assert [_post(client, n).status_code for n in range(3)] == [201] * 3
    assert any("rate limit" in record.getMessage().lower() for record in caplog.records), "the failure is logged"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (run by .ci/run)")
def test_two_app_instances_share_one_budget_through_redis(app_factory):
    config = dict(
        RATELIMIT_ENABLED=True,
        RATE_LIMITS=_limits(comments=("3/minute", "100/minute")),
        REDIS_URL=os.environ["REDIS_URL"],
    )
    first, second = app_factory(**config), app_factory(**config)
    token = mint_reader(first.test_client())
    headers = reader_headers(token)
    # A fresh article key keeps this run's budget apart from earlier runs against the same Redis.
    article = "shared-" + uuid.uuid4().hex[:8]
    url = f"/api/v1/articles/{article}/comments"
    statuses = []
    for n, app in enumerate([first, second, first, second]):
        statuses.append(app.test_client().post(url, json={"body": f"n{n}"}, headers=headers).status_code)
    assert statuses == [201, 201, 201, 429]


@pytest.mark.parametrize(
    "action, method, path, body",
    [
        ("views", "POST", "/api/v1/articles/a1/views", None),
        ("reactions", "PUT", "/api/v1/articles/a1/reactions/like", None),
        ("reactions", "DELETE", "/api/v1/articles/a1/reactions/like", None),
        ("votes", "POST", "/api/v1/comments/{comment}/vote", {"value": 1}),
        ("flags", "POST", "/api/v1/comments/{comment}/flags", {"reason": "spam"}),
        ("comments", "PATCH", "/api/v1/comments/{comment}", {"body": "edited"}),
    ],
)
def test_every_reader_action_is_limited(app_factory, action, method, path, body):
    from engagement.config import DEFAULT_RATE_LIMITS

    limits = {**DEFAULT_RATE_LIMITS, action: ("1/minute", "100/minute")}
    client = app_factory(RATELIMIT_ENABLED=True, RATE_LIMITS=limits, REDIS_URL=None).test_client()
    author = client.post(COMMENTS, json={"body": "target"}, headers={"User-Agent": "author"}).get_json()
    url = path.format(comment=author["id"])
    headers = {"User-Agent": "Mozilla/5.0 reader", "X-Edit-Token": author["edit_token"]}
    statuses = [client.open(url, method=method, json=body, headers=headers).status_code for _ in range(2)]
    assert statuses[0] < 400 and statuses[1] == 429, statuses


def test_routes_without_limits_pay_nothing_for_the_limiter(app_factory):
    """Limits are decorators checked inside their views: no limiter hook runs before every request."""
    app = app_factory(RATELIMIT_ENABLED=True)
    limiter = app.extensions["engagement.limiter"]
    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    client = app.test_client()
    for n in range(10):  # the readers budget (300/minute) is never touched by /healthz
        assert client.get("/healthz").status_code == 200
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
