"""GET /metrics: off by default, for allowed addresses or a bearer token, and the series it shows.

The series live in one registry per process, shared by every app a test builds: tests
compare values before and after, never absolute ones.
"""
from __future__ import annotations

import os
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engagement.api.metrics import install_metrics
from engagement.config import DEFAULT_RATE_LIMITS, DEFAULT_TARGET_BUDGETS, ConfigurationError, load_config
from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    browser_headers,
    mint_reader,
    post_comment,
    reader_headers,
    send_view,
)

TOKEN = "a-scrape-token-of-some-length"
FOREIGN = "203.0.113.50"
COMMENTS = f"/api/v1/articles/{DEFAULT_ARTICLE}/comments"
COMMENTS_ROUTE = "/api/v1/articles/<article_key:key>/comments"
REDIS_URL = os.environ.get("REDIS_URL")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client, **environ: str) -> Samples:
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for sample_name, labels in samples if sample_name == name}


class Series:
    """One series' change between two scrapes of ``client``."""

    def __init__(self, client, name: str, **labels: str):
        self._client, self._name, self._labels = client, name, labels
        self._before = value(scrape(client), name, **labels)

    def delta(self) -> float:
        return value(scrape(self._client), self._name, **self._labels) - self._before


@pytest.fixture
def app(app_factory):
    return app_factory(METRICS_ENABLED=True)


# --- who may scrape -------------------------------------------------------------------------

def test_off_by_default_it_is_an_unknown_path_and_installs_nothing(app_factory):
    app = app_factory()
    assert_error(app.test_client().get("/metrics"), 404, "not_found")
    hooks = [*app.before_request_funcs.get(None, []), *app.after_request_funcs.get(None, [])]
    assert not [hook for hook in hooks if hook.__module__ == "engagement.api.metrics"]
    assert "metrics" not in app.blueprints and "engagement.metrics" not in app.extensions


def test_loopback_gets_the_prometheus_text_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"engagement_http_requests", "engagement_http_request_duration_seconds"} <= names
    assert scrape(client, REMOTE_ADDR="::1")


def test_other_addresses_are_refused_with_the_error_shape(client):
    assert_error(client.get("/metrics", environ_base={"REMOTE_ADDR": FOREIGN}), 403, "forbidden")
    assert_error(client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::1"}), 403, "forbidden")


def test_a_bearer_of_the_token_may_scrape_from_anywhere(app_factory):
    client = app_factory(METRICS_ENABLED=True, METRICS_TOKEN=TOKEN).test_client()

    def status(authorization: str) -> int:
        headers = {"Authorization": authorization}
        return client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": FOREIGN}).status_code

    assert status(f"Bearer {TOKEN}") == 200
    assert status(f"bearer {TOKEN}") == 200
    assert status(f"Bearer {TOKEN}x") == 403
    assert status(f"Bearer {TOKEN[:-1]}") == 403
    assert status(f"Basic {TOKEN}") == 403
    assert status("Bearer ") == 403


def test_without_a_token_configured_no_bearer_is_accepted(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer "}, environ_base={"REMOTE_ADDR": FOREIGN})
    assert_error(response, 403, "forbidden")


def test_behind_an_untrusted_proxy_the_proxy_address_lets_nobody_in(app_factory):
    """With ENGAGEMENT_TRUSTED_PROXIES=0 a forwarded request comes from the proxy's address,
    loopback on a one-host setup: that is not the client's."""
    client = app_factory(METRICS_ENABLED=True, METRICS_TOKEN=TOKEN).test_client()
    for header in ("X-Forwarded-For", "Forwarded"):
        assert_error(client.get("/metrics", headers={header: "for=198.51.100.1"}), 403, "forbidden")
    bearer = {"X-Forwarded-For": "198.51.100.1", "Authorization": f"Bearer {TOKEN}"}
    assert client.get("/metrics", headers=bearer).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_decides(app_factory):
    client = app_factory(METRICS_ENABLED=True, TRUSTED_PROXIES=1).test_client()

    def status(forwarded_for: str) -> int:
        return client.get("/metrics", headers={"X-Forwarded-For": forwarded_for}).status_code

    assert status("127.0.0.1") == 200
    assert status("198.51.100.1") == 403
    assert status("127.0.0.1, 198.51.100.1") == 403  # only the hop the proxy added counts


def test_the_allowlist_takes_ipv4_and_ipv6_networks(app_factory):
    client = app_factory(METRICS_ENABLED=True, METRICS_ALLOW=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]).test_client()

    def status(address: str) -> int:
        return client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code

    assert status("10.20.30.40") == 200
    assert status("192.0.2.7") == 200
    assert status("2001:db8:1::5") == 200
    assert status("::ffff:10.1.2.3") == 200  # an IPv4 client of a dual-stack socket
    assert status("11.0.0.1") == 403
    assert status("192.0.2.8") == 403
    assert status("2001:db9::1") == 403
    assert status("127.0.0.1") == 403  # the list replaces the loopback default


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ENGAGEMENT_METRICS_ALLOW": "10.0.0.0/33"}, "ENGAGEMENT_METRICS_ALLOW"),
        ({"ENGAGEMENT_METRICS_ALLOW": "127.0.0.1/8, localhost"}, "'localhost'"),
        ({"ENGAGEMENT_METRICS_ALLOW": "2001:db8::/129"}, "ENGAGEMENT_METRICS_ALLOW"),
        ({"ENGAGEMENT_METRICS_TOKEN": "short"}, "ENGAGEMENT_METRICS_TOKEN"),
        ({"ENGAGEMENT_METRICS": "perhaps"}, "not a boolean"),
    ],
)
def test_bad_settings_stop_the_app_in_one_line(tmp_path, environ, message):
    with pytest.raises(ConfigurationError) as raised:
        load_config(str(tmp_path), environ=environ)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_settings_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), environ={
        "ENGAGEMENT_METRICS": "true", "ENGAGEMENT_METRICS_ALLOW": "10.1.2.3/8, ::1", "ENGAGEMENT_METRICS_TOKEN": TOKEN,
    })
    assert config["METRICS_ENABLED"] is True
    assert [str(network) for network in config["METRICS_ALLOW"]] == ["10.0.0.0/8", "::1/128"]
    assert config["METRICS_TOKEN"] == TOKEN
    defaults = load_config(str(tmp_path), environ={})
    assert defaults["METRICS_ENABLED"] is False
    assert [str(network) for network in defaults["METRICS_ALLOW"]] == ["127.0.0.0/8", "::1/128"]


def test_an_invalid_allowlist_override_refuses_to_build_the_app(app_factory):
    with pytest.raises(ConfigurationError):
        app_factory(METRICS_ENABLED=True, METRICS_ALLOW=["not-a-network"])


def test_a_multiprocess_directory_set_too_late_refuses_to_start(app, monkeypatch, tmp_path):
    """prometheus_client chose in-process values on import: a directory set now would leave
    each worker showing only its own share."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        install_metrics(app)


def test_it_is_an_operations_endpoint_not_part_of_the_public_api(app_factory):
    client = app_factory(METRICS_ENABLED=True, RATELIMIT_ENABLED=True).test_client()
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not [path for path in paths if "metrics" in path]
    for _ in range(30):  # more than any reader action's budget a minute
        response = client.get("/metrics", headers={"Origin": "https://news.example"})
        assert response.status_code == 200
    assert not [name for name in response.headers.keys() if name.lower().startswith(("access-control", "x-ratelimit"))]


# --- requests -------------------------------------------------------------------------------

def test_the_request_counter_moves_by_exactly_the_requests_made(client):
    healthz = Series(client, "engagement_http_requests_total", route="/healthz", method="GET", status="200")
    durations = Series(client, "engagement_http_request_duration_seconds_count", route="/healthz", method="GET")
    comments = Series(client, "engagement_http_requests_total", route=COMMENTS_ROUTE, method="GET", status="200")
    for _ in range(7):
        assert client.get("/healthz").status_code == 200
    for _ in range(3):
        assert client.get(COMMENTS).status_code == 200
    assert healthz.delta() == 7
    assert durations.delta() == 7
    assert comments.delta() == 3


def test_unknown_paths_and_methods_add_no_label_values(client):
    client.get("/healthz")
    before = scrape(client)
    routes = label_values(before, "engagement_http_requests_total", "route")
    methods = label_values(before, "engagement_http_requests_total", "method")
    unmatched = Series(client, "engagement_http_requests_total", route="unmatched", method="GET", status="404")
    for _ in range(20):
        junk = uuid.uuid4().hex
        assert client.get(f"/{junk}").status_code == 404
        client.open(f"/api/v1/{junk}", method=junk[:8].upper())
        client.open("/healthz", method=junk[:8].upper())
    assert unmatched.delta() == 20
    after = scrape(client)
    assert label_values(after, "engagement_http_requests_total", "route") <= routes | {"unmatched"}
    assert label_values(after, "engagement_http_requests_total", "method") <= methods | {"GET", "other"}
    assert not [labels for _, labels in after for _, label in labels if "/" in label and label not in routes]


# --- comments, views, limits, the database --------------------------------------------------

def test_posted_comments_count_by_the_status_they_were_given(app_factory):
    client = app_factory(METRICS_ENABLED=True).test_client()
    approved = Series(client, "engagement_comments_posted_total", status="approved")
    spam = Series(client, "engagement_comments_posted_total", status="spam")
    post_comment(client, body="Published at once.")
    post_comment(client, body="A bot filled the hidden field.", website="https://spam.example")
    assert (approved.delta(), spam.delta()) == (1, 1)

    held = app_factory(METRICS_ENABLED=True, MODERATION="pre").test_client()
    pending = Series(held, "engagement_comments_posted_total", status="pending")
    post_comment(held, body="Held for a moderator.")
    assert pending.delta() == 1


def test_refused_comments_count_by_error_code(client):
    invalid = Series(client, "engagement_comments_refused_total", reason="validation_error")
    media_type = Series(client, "engagement_comments_refused_total", reason="unsupported_media_type")
    missing_parent = Series(client, "engagement_comments_refused_total", reason="not_found")
    posted = Series(client, "engagement_comments_posted_total", status="approved")
    assert client.post(COMMENTS, json={"body": ""}).status_code == 422
    assert client.post(COMMENTS, data="body", content_type="text/plain").status_code == 415  # refused by a guard
    assert client.post(COMMENTS, json={"body": "A reply.", "parent_id": 999}).status_code == 404
    assert (invalid.delta(), media_type.delta(), missing_parent.delta(), posted.delta()) == (1, 1, 1, 0)


def test_view_beacons_count_by_outcome(app_factory):
    client = app_factory(METRICS_ENABLED=True).test_client()
    outcomes = {
        outcome: Series(client, "engagement_view_beacons_total", outcome=outcome)
        for outcome in ("counted", "repeat", "bot", "prefetch")
    }
    reader = browser_headers(mint_reader(client))
    assert send_view(client, headers=reader) == 1
    assert send_view(client, headers=reader) == 1  # within the window
    assert send_view(client, headers=browser_headers(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")) == 1
    assert send_view(client, headers=browser_headers(**{"Sec-Purpose": "prefetch"})) == 1
    assert {outcome: series.delta() for outcome, series in outcomes.items()} == {
        "counted": 1, "repeat": 1, "bot": 1, "prefetch": 1,
    }


def test_views_over_the_address_budget_count_as_over_budget(app_factory):
    # A reader without a token spends 10 units: the second one from the address finds none left.
    client = app_factory(
        METRICS_ENABLED=True, RATELIMIT_ENABLED=True, TARGET_BUDGETS={**DEFAULT_TARGET_BUDGETS, "views": "10/hour"},
    ).test_client()
    over = Series(client, "engagement_view_beacons_total", outcome="over_budget")
    counted = Series(client, "engagement_view_beacons_total", outcome="counted")
    assert send_view(client, headers=browser_headers(user_agent="Mozilla/5.0 Firefox/128.0")) == 1
    assert send_view(client, headers=browser_headers(user_agent="Mozilla/5.0 Firefox/129.0")) == 1
    assert (counted.delta(), over.delta()) == (1, 1)


def test_rate_limit_refusals_count_by_scope(app_factory):
    client = app_factory(
        METRICS_ENABLED=True, RATELIMIT_ENABLED=True,
        RATE_LIMITS={**DEFAULT_RATE_LIMITS, "comments": ("2/minute", "100/minute")},
        TARGET_BUDGETS={**DEFAULT_TARGET_BUDGETS, "reactions": "10/hour"},
    ).test_client()
    per_reader = Series(client, "engagement_rate_limited_total", scope="comments:reader")
    per_target = Series(client, "engagement_rate_limited_total", scope="reactions:target")
    refused = Series(client, "engagement_comments_refused_total", reason="rate_limited")
    token = mint_reader(client)
    statuses = [client.post(COMMENTS, json={"body": f"comment {n}"}, headers=reader_headers(token)).status_code
                for n in range(3)]
    assert statuses == [201, 201, 429]
    # A reader without a token spends 10 units of the address's budget on the article.
    assert client.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like").status_code == 200
    assert_error(client.put(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/love"), 429, "rate_limited")
    assert (per_reader.delta(), per_target.delta(), refused.delta()) == (1, 1, 1)


def test_database_failures_count_by_error_class(app_factory, tmp_path):
    client = app_factory(METRICS_ENABLED=True, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/db").test_client()
    errors = Series(client, "engagement_database_errors_total", error="OperationalError")
    assert_error(client.get(COMMENTS), 503, "unavailable")
    assert_error(client.post(COMMENTS, json={"body": "Nowhere to go."}), 503, "unavailable")
    assert_error(client.get("/readyz"), 503, "unavailable")  # the readiness probe's failures count too
    assert errors.delta() == 3


# --- the Redis view backlog -----------------------------------------------------------------

def test_unflushed_views_are_read_from_redis_at_scrape_time(app_factory, redis_client):
    app = app_factory(METRICS_ENABLED=True, REDIS_URL=REDIS_URL)
    client = app.test_client()
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        send_view(client, "story", address=address)
    samples = scrape(client)
    assert value(samples, "engagement_views_unflushed") == 3
    assert value(samples, "engagement_view_batches_in_flight") == 0
    result = app.test_cli_runner().invoke(args=["engagement", "flush-views"])
    assert result.exit_code == 0, result.output
    assert value(scrape(client), "engagement_views_unflushed") == 0


def test_the_last_flush_of_a_worker_is_a_timestamp(app_factory, redis_client):
    app = app_factory(METRICS_ENABLED=True, REDIS_URL=REDIS_URL, TESTING=False, VIEW_FLUSH_SECONDS=0.1)
    client = app.test_client()
    started = time.time()
    try:
        send_view(client, "story")  # starts this process's flusher
        deadline = time.monotonic() + 10
        flushed = 0.0
        while flushed < started and time.monotonic() < deadline:
            time.sleep(0.05)
            flushed = value(scrape(client), "engagement_view_flush_last_success_timestamp_seconds")
        unflushed = value(scrape(client), "engagement_views_unflushed")
    finally:
        app.extensions["engagement.view_flusher"].stop()
    assert started <= flushed <= time.time()
    assert unflushed == 0


def test_an_unreachable_redis_leaves_the_backlog_out_of_the_scrape(app_factory):
    client = app_factory(METRICS_ENABLED=True, REDIS_URL="redis://127.0.0.1:1/0").test_client()
    samples = scrape(client)
    assert ("engagement_views_unflushed", frozenset()) not in samples
    assert value(samples, "engagement_http_requests_total", route="/metrics", method="GET", status="200") >= 1
