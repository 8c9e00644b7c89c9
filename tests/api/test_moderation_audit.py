"""The audit log (every state-changing moderation call, newest first, paged) and queue stats."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.factories import (
    assert_error,
    create_api_token,
    established_reader,
    flag_comment,
    mint_reader,
    mod_headers,
    network_address,
    post_comment,
    reader_headers,
)

MOD = "/api/v1/mod"




def entries(client, headers, **params):
    response = client.get(f"{MOD}/audit", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _patch(client, mod, admin, comment):
    return client.patch(f"{MOD}/comments/{comment['id']}", json={"status": "spam"}, headers=mod)


def _bulk(client, mod, admin, comment):
    return client.post(f"{MOD}/comments/bulk", json={"ids": [comment["id"]], "status": "rejected"}, headers=mod)


def _purge(client, mod, admin, comment):
    return client.delete(f"{MOD}/comments/{comment['id']}", headers=admin)


def _article(client, mod, admin, comment):
    return client.put(f"{MOD}/articles/an-article", json={"comments_closed": True}, headers=mod)


def _ban(client, mod, admin, comment):
    return client.post(f"{MOD}/bans", json={"comment_id": comment["id"], "reason": "spam"}, headers=mod)


def _lift(client, mod, admin, comment):
    ban = _ban(client, mod, admin, comment).get_json()
    return client.delete(f"{MOD}/bans/{ban['id']}", headers=mod)


def _blocklist(client, mod, admin, comment):
    return client.put(f"{MOD}/blocklist", json={"words": ["x"]}, headers=mod)


@pytest.mark.parametrize(
    "call, actor, action, target",
    [
        (_patch, "mod", "comment.status", "comment:{id}"),
        (_bulk, "mod", "comment.status", "comment:{id}"),
        (_purge, "root", "comment.purge", "comment:{id}"),
        (_article, "mod", "article.update", "article:an-article"),
        (_ban, "mod", "ban.create", "ban:1"),
        (_lift, "mod", "ban.lift", "ban:1"),
        (_blocklist, "mod", "blocklist.replace", "blocklist"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_every_state_changing_call_is_audited(client, mod, admin, call, actor, action, target):
    comment = post_comment(client)
    before = entries(client, mod)["entries"]
    response = call(client, mod, admin, comment)
    assert response.status_code < 300, response.get_json()
    latest = entries(client, mod)["entries"]
    assert len(latest) > len(before)
    entry = latest[0]
    assert set(entry) == {"id", "at", "actor", "action", "target", "details"}
    assert (entry["actor"], entry["action"], entry["target"]) == (actor, action, target.format(id=comment["id"]))
    assert isinstance(entry["details"], dict)


def test_reads_are_not_audited(client, mod):
    post_comment(client)
    before = entries(client, mod)["entries"]
    for path in ("/comments", "/bans", "/blocklist", "/stats", "/audit"):
        assert client.get(MOD + path, headers=mod).status_code == 200
    assert entries(client, mod)["entries"] == before


def test_entries_are_newest_first_and_cursors_walk_them_once(client, mod):
    comment = post_comment(client)
    with time_machine.travel("2026-04-01 08:00:00Z", tick=False) as clock:
        for status in ("pending", "approved", "spam", "approved", "rejected", "approved", "pending"):
            client.patch(f"{MOD}/comments/{comment['id']}", json={"status": status}, headers=mod)
            clock.shift(timedelta(minutes=1))
    everything = [e for e in entries(client, mod)["entries"] if e["action"] == "comment.status"]
    assert [e["details"]["after"] for e in everything] == [
        "pending", "approved", "rejected", "approved", "spam", "approved", "pending",
    ]
    assert everything[0]["at"] == "2026-04-01T08:06:00Z" and everything[-1]["at"] == "2026-04-01T08:00:00Z"
    walked, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = entries(client, mod, **params)
        walked.extend(page["entries"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e for e in walked if e["action"] == "comment.status"] == everything
    assert len({e["id"] for e in walked}) == len(walked)


def test_entries_filter_by_actor_action_and_target_and_page_with_the_filter(client, mod, admin):
    first, second = post_comment(client, body="one"), post_comment(client, body="two")
    client.patch(f"{MOD}/comments/{first['id']}", json={"status": "rejected"}, headers=mod)
    client.patch(f"{MOD}/comments/{second['id']}", json={"pinned": True}, headers=mod)
    client.patch(f"{MOD}/comments/{first['id']}", json={"status": "approved"}, headers=admin)
    client.put(f"{MOD}/articles/an-article", json={"title": "T"}, headers=admin)

    def listed(**params):
        return [(e["actor"], e["action"], e["target"]) for e in entries(client, mod, **params)["entries"]]

    assert listed(target=f"comment:{first['id']}") == [
        ("root", "comment.status", f"comment:{first['id']}"), ("mod", "comment.status", f"comment:{first['id']}"),
    ]
    assert listed(actor="mod") == [
        ("mod", "comment.pin", f"comment:{second['id']}"), ("mod", "comment.status", f"comment:{first['id']}"),
    ]
    assert listed(actor="root", action="article.update") == [("root", "article.update", "article:an-article")]
    assert listed(action="comment.%") == []  # exact, not a pattern
    page = entries(client, mod, actor="root", limit=1)
    assert page["entries"][0]["action"] == "article.update"
    following = entries(client, mod, actor="root", limit=1, cursor=page["next_cursor"])
    assert [e["action"] for e in following["entries"]] == ["comment.status"]
    assert following["next_cursor"] is None


@pytest.mark.parametrize(
    "params, field",
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"cursor": "forged"}, "cursor"),
     ({"actor": "x" * 81}, "actor"), ({"target": ""}, "target")],
)
def test_bad_audit_parameters_are_422(client, mod, params, field):
    response = client.get(f"{MOD}/audit", query_string=params, headers=mod)
    assert field in assert_error(response, 422, "validation_error")["fields"]


def test_a_queue_cursor_is_not_an_audit_cursor(client, mod):
    for n in range(3):
        post_comment(client, body=f"c{n}")
    cursor = client.get(
        f"{MOD}/comments", query_string={"status": "approved", "limit": 1}, headers=mod
    ).get_json()["next_cursor"]
    assert cursor
    assert_error(client.get(f"{MOD}/audit", query_string={"cursor": cursor}, headers=mod), 422, "validation_error")


def test_stats_count_each_status_and_open_flags(app_factory):
    app = app_factory(FLAG_THRESHOLD=2)
    client, mod = app.test_client(), mod_headers(create_api_token(app))
    assert client.get(f"{MOD}/stats", headers=mod).get_json() == {
        "pending": 0, "flagged": 0, "approved": 0, "rejected": 0, "spam": 0, "deleted": 0,
    }
    approved = [post_comment(client, body=f"ok {n}") for n in range(4)]
    client.patch(f"{MOD}/comments/{approved[0]['id']}", json={"status": "rejected"}, headers=mod)
    post_comment(client, body="bot", website="x")
    withdrawn = post_comment(client, body="oops")
    client.delete(f"/api/v1/comments/{withdrawn['id']}", headers={"X-Edit-Token": withdrawn["edit_token"]})
    flag_comment(client, approved[1]["id"], headers=reader_headers(mint_reader(client)))
    for n in range(2):  # two established readers on two networks reach the threshold of 2
        flag_comment(
            client, approved[2]["id"], headers=reader_headers(established_reader(client)), address=network_address(n)
        )

    assert client.get(f"{MOD}/stats", headers=mod).get_json() == {
        "pending": 1, "flagged": 2, "approved": 2, "rejected": 1, "spam": 1, "deleted": 1,
    }
