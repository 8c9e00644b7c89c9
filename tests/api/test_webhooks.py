"""Webhooks: admin endpoints, Standard Webhooks signatures, server-side request forgery, retries and dead letters."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
import time_machine
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from engagement.api.common import WRITE_LOCK
from engagement.clock import utcnow
from tests.factories import assert_error, post_comment, run_worker, subscribe_webhook


@pytest.fixture
def app(app_factory):
    """Webhooks may reach the receiver on 127.0.0.1; two attempts, then the dead letter."""
    return app_factory(WEBHOOK_ALLOW_PRIVATE=True, DELIVERY_MAX_ATTEMPTS=2, WEBHOOK_TIMEOUT_SECONDS=2.0)


def deliveries(client, headers, **query):
    response = client.get("/api/v1/mod/deliveries", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["deliveries"]


# --- the admin endpoints --------------------------------------------------------------------------

def test_the_secret_is_shown_once_and_the_webhook_can_be_changed_and_deleted(client, admin, receiver):
    created = subscribe_webhook(client, admin, receiver.url, ["comment.held"], description="Slack bridge")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["comment.held"] and created["active"] is True

    listed = client.get("/api/v1/mod/webhooks", headers=admin).get_json()["webhooks"]
    assert [hook["id"] for hook in listed] == [created["id"]]
    assert "secret" not in listed[0] and created["secret"] not in json.dumps(listed)

    changed = client.patch(
        f"/api/v1/mod/webhooks/{created['id']}", json={"active": False, "event_types": ["comment.flagged"]},
        headers=admin,
    )
    assert changed.status_code == 200
    assert (changed.get_json()["active"], changed.get_json()["event_types"]) == (False, ["comment.flagged"])
    assert "secret" not in changed.get_json()

    assert client.delete(f"/api/v1/mod/webhooks/{created['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/mod/webhooks", headers=admin).get_json() == {"webhooks": []}
    assert_error(client.delete(f"/api/v1/mod/webhooks/{created['id']}", headers=admin), 404, "not_found")

    audit = client.get("/api/v1/mod/audit", headers=admin).get_json()["entries"]
    assert [entry["action"] for entry in audit][:3] == ["webhook.delete", "webhook.update", "webhook.create"]
    assert created["secret"] not in json.dumps(audit)


def test_webhooks_and_deliveries_need_an_admin_token(client, mod):
    assert_error(client.get("/api/v1/mod/webhooks"), 401, "unauthorized")
    assert_error(client.get("/api/v1/mod/webhooks", headers=mod), 403, "forbidden")
    assert_error(client.get("/api/v1/mod/deliveries", headers=mod), 403, "forbidden")
    response = client.post("/api/v1/mod/webhooks", json={"url": "https://example.org/", "event_types": []}, headers=mod)
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.org/", "event_types": ["comment.held"]}, "url"),
        ({"url": "https://user@example.org/", "event_types": ["comment.held"]}, "url"),
        ({"url": "https://example.org/" + "a" * 2000, "event_types": ["comment.held"]}, "url"),
        ({"url": "https://example.org/", "event_types": []}, "event_types"),
        ({"url": "https://example.org/", "event_types": ["comment.liked"]}, "event_types"),
        ({"url": "https://example.org/", "event_types": ["comment.held"], "secret": "mine"}, "secret"),
    ],
)
def test_malformed_webhooks_are_refused(client, admin, body, field):
    error = assert_error(client.post("/api/v1/mod/webhooks", json=body, headers=admin), 422, "validation_error")
    assert any(name.partition(".")[0] == field for name in error["fields"])


# --- server-side request forgery ----------------------------------------------------------------

@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://no-such-host.invalid/",
    ],
)
def test_urls_that_resolve_to_private_addresses_are_refused(app_factory, url):
    from tests.factories import create_api_token, mod_headers

    app = app_factory(WEBHOOK_ALLOW_PRIVATE=False)
    admin = mod_headers(create_api_token(app, "admin"))
    response = app.test_client().post("/api/v1/mod/webhooks", json={"url": url, "event_types": ["comment.held"]},
                                      headers=admin)
    assert "url" in assert_error(response, 422, "validation_error")["fields"]


def test_an_address_that_turned_private_is_refused_at_delivery_time(app_factory, receiver, monkeypatch):
    from tests.factories import create_api_token, mod_headers

    public = ("93.184.215.14", 80)
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "hooks.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", public)]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    app = app_factory(WEBHOOK_ALLOW_PRIVATE=False, DELIVERY_MAX_ATTEMPTS=1)
    client, admin = app.test_client(), mod_headers(create_api_token(app, "admin"))
    subscribe_webhook(client, admin, "http://hooks.example.org/hook")
    # DNS now answers with the loopback address, where the receiver listens.
    public = ("127.0.0.1", int(receiver.url.split(":")[2].split("/")[0]))
    post_comment(client)
    run_worker(app)
    assert receiver.received == []
    [failed] = deliveries(client, admin, status="failed")
    assert "loopback, private" in failed["last_error"]


def test_requests_go_to_the_checked_address_with_the_url_s_host(app_factory, receiver, monkeypatch):
    from tests.factories import create_api_token, mod_headers

    port = int(receiver.url.split(":")[2].split("/")[0])
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def resolve(host, port_, *args, **kwargs):
        if host == "hooks.example.test":
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port_, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    app = app_factory(WEBHOOK_ALLOW_PRIVATE=True)
    client, admin = app.test_client(), mod_headers(create_api_token(app, "admin"))
    subscribe_webhook(client, admin, f"http://hooks.example.test:{port}/hook?team=news")
    post_comment(client)
    run_worker(app)
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.test:{port}"
    assert request.path == "/hook?team=news"
    assert lookups == ["hooks.example.test", "hooks.example.test"]  # at creation, then once per delivery


# --- signatures ---------------------------------------------------------------------------------------

def test_deliveries_verify_with_the_standard_s_library(app, client, admin, receiver):
    secret = subscribe_webhook(client, admin, receiver.url)["secret"]
    comment = post_comment(client)
    run_worker(app)
    [request] = receiver.received
    message = Verifier(secret).verify(request.body, request.headers)
    assert message["type"] == "comment.published"
    assert message["data"]["comment"]["id"] == comment["id"]
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(request.body.replace(b"published", b"deleted"), request.headers)
    other = subscribe_webhook(client, admin, receiver.url)["secret"]
    assert other != secret
    with pytest.raises(WebhookVerificationError):
        Verifier(other).verify(request.body, request.headers)


def test_only_subscribed_active_webhooks_receive_an_event(app, client, admin, receiver):
    subscribe_webhook(client, admin, receiver.url, ["comment.flagged"])
    inactive = subscribe_webhook(client, admin, receiver.url, ["comment.published"], active=False)
    post_comment(client)
    run_worker(app)
    assert receiver.received == []
    client.patch(f"/api/v1/mod/webhooks/{inactive['id']}", json={"active": True}, headers=admin)
    post_comment(client, body="Second.")
    run_worker(app)
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["comment.published"]


# --- retries and dead letters -------------------------------------------------------------------------

def test_a_receiver_that_is_down_gets_retries_then_a_dead_letter_an_admin_can_retry(app, client, admin, receiver):
    receiver.status = 503
    subscribe_webhook(client, admin, receiver.url)
    post_comment(client)
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        run_worker(app)
        assert len(receiver.received) == 1
        [pending] = deliveries(client, admin, status="pending")
        assert (pending["attempts"], pending["last_status_code"], pending["last_error"]) == (1, 503, "HTTP 503")
        run_worker(app)  # not due yet: the backoff holds it back
        assert len(receiver.received) == 1
        clock.shift(timedelta(seconds=31))  # past the first backoff (30 s at most)
        run_worker(app)
        assert len(receiver.received) == 2
        assert deliveries(client, admin, status="pending") == []
        [failed] = deliveries(client, admin, status="failed")
        assert failed["attempts"] == 2 and failed["event_type"] == "comment.published"

        receiver.status = 200
        retried = client.post(f"/api/v1/mod/deliveries/{failed['id']}/retry", headers=admin)
        assert retried.status_code == 200
        assert (retried.get_json()["status"], retried.get_json()["attempts"]) == ("pending", 0)
        assert_error(client.post(f"/api/v1/mod/deliveries/{failed['id']}/retry", headers=admin), 409, "conflict")
        run_worker(app)
    assert len(receiver.received) == 3
    assert len(set(receiver.webhook_ids())) == 1  # every attempt of one event carries one webhook-id
    [delivered] = deliveries(client, admin, status="delivered")
    assert delivered["delivered_at"] is not None and delivered["last_error"] is None
    audit = client.get("/api/v1/mod/audit", query_string={"action": "delivery.retry"}, headers=admin).get_json()
    assert audit["entries"][0]["target"] == f"delivery:{failed['id']}"


def test_a_receiver_that_refuses_connections_is_retried(app, client, admin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    subscribe_webhook(client, admin, f"http://127.0.0.1:{closed_port}/hook")
    post_comment(client)
    run_worker(app)
    [pending] = deliveries(client, admin, status="pending")
    assert pending["attempts"] == 1 and "ConnectError" in pending["last_error"]


def test_deliveries_are_paged_newest_first(app, client, admin, receiver):
    subscribe_webhook(client, admin, receiver.url)
    for n in range(3):
        post_comment(client, body=f"Comment {n}.")
    run_worker(app)
    first = client.get("/api/v1/mod/deliveries", query_string={"limit": 2}, headers=admin).get_json()
    second = client.get(
        "/api/v1/mod/deliveries", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
    ).get_json()
    ids = [d["id"] for d in first["deliveries"] + second["deliveries"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3 and second["next_cursor"] is None
    bad = client.get("/api/v1/mod/deliveries", query_string={"status": "lost"}, headers=admin)
    assert_error(bad, 422, "validation_error")
    assert_error(client.post("/api/v1/mod/deliveries/999/retry", headers=admin), 404, "not_found")


def test_prune_removes_old_delivered_events_and_keeps_dead_letters(app, client, admin, receiver):
    subscribe_webhook(client, admin, receiver.url)
    post_comment(client, body="Delivered.")
    run_worker(app)
    receiver.status = 500
    post_comment(client, body="Failing.")
    with time_machine.travel(utcnow(), tick=False) as clock:
        run_worker(app)
        clock.shift(timedelta(seconds=31))
        run_worker(app)  # the second and last attempt: a dead letter
        clock.shift(timedelta(days=31))
        result = app.test_cli_runner().invoke(args=["engagement", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 1 delivered event(s)" in result.output
    assert [d["status"] for d in deliveries(client, admin)] == ["failed"]


def test_the_dns_lookup_runs_before_the_write_lock_is_taken(app, client, admin, monkeypatch):
    lock = app.extensions.get(WRITE_LOCK)
    if lock is None:
        pytest.skip("only SQLite apps take a process-wide write lock")
    held_during_lookup = []
    real_getaddrinfo = socket.getaddrinfo

    def resolve(*arguments, **keywords):
        held_during_lookup.append(lock.locked())
        return real_getaddrinfo(*arguments, **keywords)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    created = subscribe_webhook(client, admin, "http://127.0.0.1:9/hook")
    response = client.patch(f"/api/v1/mod/webhooks/{created['id']}", json={"url": "http://127.0.0.1:10/"}, headers=admin)
    assert response.status_code == 200 and response.get_json()["url"] == "http://127.0.0.1:10/"
    assert held_during_lookup == [False, False]
