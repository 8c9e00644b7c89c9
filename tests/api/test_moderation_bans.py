"""Bans by comment: the reader identity, address hash and email behind it; expiry and lifting."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    create_api_token,
    flag_comment,
    list_comments,
    mint_reader,
    mod_headers,
    post_comment,
)

MOD = "/api/v1/mod"
TROLL_ADDRESS = "203.0.113.66"
OTHER_ADDRESS = "198.51.100.20"



class Reader:
    """A browser: an address, a user agent and optionally a reader token."""

    def __init__(self, client, address, agent="Browser/1.0", token=None):
        self.client, self.address, self.agent, self.token = client, address, agent, token

    def _headers(self):
        headers = {"User-Agent": self.agent}
        if self.token:
            headers["X-Reader-Token"] = self.token
        return headers

    def post(self, body="hello", article=DEFAULT_ARTICLE, **fields):
        return self.client.post(
            f"/api/v1/articles/{article}/comments", json={"body": body, **fields},
            headers=self._headers(), environ_base={"REMOTE_ADDR": self.address},
        )

    def flag(self, comment_id):
        return self.client.post(
            f"/api/v1/comments/{comment_id}/flags", json={"reason": "spam"},
            headers=self._headers(), environ_base={"REMOTE_ADDR": self.address},
        )

    def open(self, method, path, **kwargs):
        return self.client.open(
            path, method=method, headers=self._headers(), environ_base={"REMOTE_ADDR": self.address}, **kwargs
        )

    def edit(self, comment, body):
        return self.client.patch(
            f"/api/v1/comments/{comment['id']}", json={"body": body},
            headers={**self._headers(), "X-Edit-Token": comment["edit_token"]},
            environ_base={"REMOTE_ADDR": self.address},
        )


def ban(client, mod, comment_id, expect=201, **fields):
    response = client.post(f"{MOD}/bans", json={"comment_id": comment_id, "reason": "trolling", **fields}, headers=mod)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def posted(response):
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_ban_response_reveals_no_identity_and_is_listed_and_audited(client, mod):
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    comment = posted(troll.post(author_email="troll@example.com"))
    created = ban(client, mod, comment["id"], reason="Repeated abuse")
    assert set(created) == {"id", "comment_id", "reason", "created_at", "expires_at", "actor"}
    assert created["reason"] == "Repeated abuse" and created["actor"] == "mod"
    assert created["expires_at"] is None and created["created_at"].endswith("Z")
    assert "troll@example.com" not in str(created)

    listed = client.get(f"{MOD}/bans", headers=mod).get_json()
    assert listed == {"bans": [created]}
    entry = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
    assert (entry["action"], entry["target"], entry["actor"]) == ("ban.create", f"ban:{created['id']}", "mod")
    assert entry["details"]["reason"] == "Repeated abuse"
    assert "troll@example.com" not in str(entry)


def test_ban_by_reader_token_follows_the_token_to_another_address(client, mod):
    token = mint_reader(client)
    troll = Reader(client, TROLL_ADDRESS, token=token)
    comment = posted(troll.post())
    ban(client, mod, comment["id"])

    assert_error(troll.post("again"), 403, "banned")
    assert_error(Reader(client, OTHER_ADDRESS, token=token).post("from the café"), 403, "banned")
    # someone else elsewhere is not affected
    posted(Reader(client, OTHER_ADDRESS, token=mint_reader(client)).post("unrelated"))


def test_ban_by_fallback_hash_without_a_token(client, mod):
    troll = Reader(client, TROLL_ADDRESS, agent="Troll/1.0")
    comment = posted(troll.post())
    ban(client, mod, comment["id"])
    assert_error(troll.post("again"), 403, "banned")
    # the address is banned whatever the agent or token
    assert_error(Reader(client, TROLL_ADDRESS, agent="Other/2.0").post("new agent"), 403, "banned")
    assert_error(Reader(client, TROLL_ADDRESS, token=mint_reader(client)).post("new token"), 403, "banned")
    posted(Reader(client, OTHER_ADDRESS, agent="Troll/1.0").post("another network"))


def test_ban_by_email(client, mod):
    comment = posted(Reader(client, TROLL_ADDRESS).post(author_email="Troll@Example.com"))
    ban(client, mod, comment["id"])
    elsewhere = Reader(client, OTHER_ADDRESS, token=mint_reader(client))
    assert_error(elsewhere.post("same person", author_email="troll@example.com"), 403, "banned")
    posted(elsewhere.post("without the email"))


def test_banned_reader_cannot_flag_or_edit(client, mod):
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    own = posted(troll.post("mine"))
    other = posted(Reader(client, OTHER_ADDRESS).post("someone else's"))
    ban(client, mod, own["id"])
    assert_error(troll.flag(other["id"]), 403, "banned")
    assert_error(troll.edit(own, "edited after the ban"), 403, "banned")
    # existing comments stay until a moderator acts
    assert [c["id"] for c in list_comments(client)["comments"]] == [own["id"], other["id"]]


def test_email_ban_also_stops_edits_from_another_identity(client, mod):
    first = posted(Reader(client, TROLL_ADDRESS).post("first", author_email="troll@example.com"))
    elsewhere = Reader(client, OTHER_ADDRESS, token=mint_reader(client))
    second = posted(elsewhere.post("second", author_email="troll@example.com"))
    ban(client, mod, first["id"])
    assert_error(elsewhere.edit(second, "edited after the ban"), 403, "banned")


def test_banned_reader_cannot_vote_or_react(client, mod):
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    own = posted(troll.post("mine"))
    other = posted(Reader(client, OTHER_ADDRESS).post("someone else's"))
    assert troll.open("PUT", f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like").status_code == 200
    ban(client, mod, own["id"])
    assert_error(troll.open("POST", f"/api/v1/comments/{other['id']}/vote", json={"value": 1}), 403, "banned")
    assert_error(troll.open("PUT", f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/love"), 403, "banned")
    assert_error(troll.open("DELETE", f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like"), 403, "banned")
    # The address is banned too: a fresh token from it, on an article nobody touched yet,
    # changes nothing either (the ban is checked before the article would be created).
    fresh = Reader(client, TROLL_ADDRESS, agent="Other/2.0", token=mint_reader(client))
    assert_error(fresh.open("POST", f"/api/v1/comments/{other['id']}/vote", json={"value": -1}), 403, "banned")
    assert_error(fresh.open("PUT", f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions/like"), 403, "banned")
    assert_error(fresh.open("PUT", "/api/v1/articles/untouched-by-anyone/reactions/like"), 403, "banned")
    assert client.get("/api/v1/articles/untouched-by-anyone").status_code == 404
    counts = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions").get_json()["counts"]
    assert counts["like"] == 1 and counts["love"] == 0
    voted = client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments").get_json()["comments"][1]
    assert (voted["upvotes"], voted["downvotes"]) == (0, 0)


def test_purge_comments_rejects_their_pending_and_public_comments_in_the_same_call(app_factory):
    app = app_factory()
    client, mod = app.test_client(), mod_headers(create_api_token(app))
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    first = posted(troll.post("one"))
    second = posted(troll.post("two", article="elsewhere"))
    client.put(f"{MOD}/articles/premoderated", json={"moderation": "pre"}, headers=mod)
    held = posted(troll.post("three", article="premoderated"))
    bystander = posted(Reader(client, OTHER_ADDRESS).post("innocent"))

    ban(client, mod, first["id"], purge_comments=True)
    assert [c["id"] for c in list_comments(client)["comments"]] == [bystander["id"]]
    assert list_comments(client, "elsewhere")["comments"] == []
    assert list_comments(client)["article"]["comment_count"] == 1
    rejected = client.get(f"{MOD}/comments", query_string={"status": "rejected"}, headers=mod).get_json()["comments"]
    assert sorted(c["id"] for c in rejected) == sorted([first["id"], second["id"], held["id"]])
    assert {c["moderation_reason"] for c in rejected} == {"banned"}
    entries = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"]
    assert entries[0]["action"] == "ban.create"
    assert sorted(entries[0]["details"]["rejected_comment_ids"]) == sorted(c["id"] for c in rejected)
    assert sum(1 for e in entries if e["action"] == "comment.status") == 3


def test_a_timed_ban_expires(client, mod):
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    with time_machine.travel("2026-05-01 12:00:00Z", tick=False) as clock:
        comment = posted(troll.post())
        created = ban(client, mod, comment["id"], duration_hours=2)
        assert created["expires_at"] == "2026-05-01T14:00:00Z"
        audited = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
        assert audited["details"]["expires_at"] == created["expires_at"]  # one time format everywhere
        clock.shift(timedelta(hours=1, minutes=59))
        assert_error(troll.post("nearly"), 403, "banned")
        clock.shift(timedelta(minutes=1))
        posted(troll.post("free again"))
        assert client.get(f"{MOD}/bans", headers=mod).get_json() == {"bans": []}


def test_lifting_a_ban(client, mod):
    troll = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    comment = posted(troll.post())
    created = ban(client, mod, comment["id"])
    response = client.delete(f"{MOD}/bans/{created['id']}", headers=mod)
    assert response.status_code == 204 and response.data == b""
    posted(troll.post("forgiven"))
    assert client.get(f"{MOD}/bans", headers=mod).get_json() == {"bans": []}
    entry = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
    assert (entry["action"], entry["target"]) == ("ban.lift", f"ban:{created['id']}")
    assert_error(client.delete(f"{MOD}/bans/{created['id']}", headers=mod), 404, "not_found")
    assert_error(client.delete(f"{MOD}/bans/424242", headers=mod), 404, "not_found")


def test_banning_an_unknown_comment_is_404(client, mod):
    assert_error(client.post(f"{MOD}/bans", json={"comment_id": 424242, "reason": "x"}, headers=mod), 404, "not_found")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "ok", "duration_hours": 0}, "duration_hours"),
        ({"reason": "ok", "duration_hours": 87_601}, "duration_hours"),
        ({"reason": "ok", "duration_hours": "a day"}, "duration_hours"),
        ({"reason": "ok", "purge_comments": "yes"}, "purge_comments"),
        ({"reason": "ok", "comment_id": "abc"}, "comment_id"),
        ({"reason": "ok", "reader_hash": "abc"}, "reader_hash"),
    ],
)
def test_invalid_bans_are_422(client, mod, body, field):
    comment = post_comment(client)
    payload = {"comment_id": comment["id"], **body}
    response = client.post(f"{MOD}/bans", json=payload, headers=mod)
    assert field in assert_error(response, 422, "validation_error")["fields"]
    assert client.get(f"{MOD}/bans", headers=mod).get_json() == {"bans": []}


def test_banned_flagging_from_the_fallback_identity(client, mod):
    comment = posted(Reader(client, TROLL_ADDRESS).post())
    target = posted(Reader(client, OTHER_ADDRESS).post("target"))
    ban(client, mod, comment["id"])
    response = client.post(
        f"/api/v1/comments/{target['id']}/flags", json={"reason": "spam"},
        headers={"User-Agent": "Anything"}, environ_base={"REMOTE_ADDR": TROLL_ADDRESS},
    )
    assert_error(response, 403, "banned")
    assert flag_comment(client, target["id"], headers={"User-Agent": "Browser/1.0"}).status_code == 202


# --- a purge takes only the author, can be previewed, and can be undone (issue 10, item 8) ---------

SHARED_ADDRESS = "192.0.2.10"


def _neighbours(client):
    """Reader A (own token, own email) and reader B (no token) behind one shared address."""
    alice = Reader(client, SHARED_ADDRESS, agent="Office/1.0", token=mint_reader(client))
    bob = Reader(client, SHARED_ADDRESS, agent="Office/1.0")
    return alice, bob


def _statuses(client, mod, ids):
    found = {}
    for status in ("approved", "pending", "rejected", "spam"):
        listed = client.get(f"{MOD}/comments", query_string={"status": status, "limit": 100}, headers=mod)
        found.update({c["id"]: status for c in listed.get_json()["comments"] if c["id"] in ids})
    return [found.get(comment_id) for comment_id in ids]


def _preview(client, mod, comment_id, expect=200):
    response = client.get(f"{MOD}/bans/preview", query_string={"comment_id": comment_id}, headers=mod)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_purge_rejects_only_the_author_not_the_neighbours_on_the_same_address(client, mod):
    alice, bob = _neighbours(client)
    alices = [posted(alice.post(f"alice {n}", author_email="alice@example.com"))["id"] for n in range(3)]
    bobs = [posted(bob.post(f"bob {n}", author_email="bob@example.com"))["id"] for n in range(2)]
    # the same person from another network, known by the email (stored case as typed)
    elsewhere = posted(Reader(client, OTHER_ADDRESS).post("bob elsewhere", author_email="Bob@Example.com"))["id"]
    client.put(f"{MOD}/articles/premoderated", json={"moderation": "pre"}, headers=mod)
    held = posted(bob.post("bob held", article="premoderated"))["id"]

    preview = _preview(client, mod, bobs[0])
    assert preview == {"comment_id": bobs[0], "purge_comments": 4, "by_status": {"pending": 1, "approved": 3}}

    created = ban(client, mod, bobs[0], purge_comments=True)
    assert _statuses(client, mod, alices) == ["approved"] * 3
    assert _statuses(client, mod, [*bobs, elsewhere, held]) == ["rejected"] * 4
    assert [c["id"] for c in list_comments(client)["comments"]] == alices
    assert list_comments(client)["article"]["comment_count"] == 3
    entry = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
    assert entry["action"] == "ban.create"
    assert len(entry["details"]["rejected_comment_ids"]) == preview["purge_comments"]
    # what a purge would take now: nothing of Bob's is left; Alice is still untouched by the ban
    assert _preview(client, mod, bobs[0])["purge_comments"] == 0
    assert_error(bob.post("still here?"), 403, "banned")
    assert created["id"]


def test_preview_reveals_no_identity_and_needs_a_moderator(client, mod):
    comment = posted(Reader(client, TROLL_ADDRESS, token=mint_reader(client)).post(author_email="t@example.com"))
    preview = _preview(client, mod, comment["id"])
    assert set(preview) == {"comment_id", "purge_comments", "by_status"}
    assert "t@example.com" not in str(preview)
    assert_error(client.get(f"{MOD}/bans/preview", query_string={"comment_id": comment["id"]}), 401, "unauthorized")
    assert_error(client.get(f"{MOD}/bans/preview", query_string={"comment_id": 424242}, headers=mod), 404, "not_found")
    for bad in ("abc", "1.5", "0", ""):
        response = client.get(f"{MOD}/bans/preview", query_string={"comment_id": bad}, headers=mod)
        assert_error(response, 422, "validation_error")
    assert_error(client.get(f"{MOD}/bans/preview", headers=mod), 422, "validation_error")
    # previewing changes nothing
    assert client.get(f"{MOD}/bans", headers=mod).get_json() == {"bans": []}
    assert _statuses(client, mod, [comment["id"]]) == ["approved"]


def test_lifting_with_restore_puts_the_purged_comments_back_and_the_counts_with_them(client, mod):
    alice, bob = _neighbours(client)
    posted(alice.post("alice", author_email="alice@example.com"))
    first = posted(bob.post("bob one"))
    reply = posted(bob.post("bob replies", parent_id=first["id"]))
    client.put(f"{MOD}/articles/premoderated", json={"moderation": "pre"}, headers=mod)
    held = posted(bob.post("bob held", article="premoderated"))
    before = list_comments(client)
    assert before["article"]["comment_count"] == 3

    created = ban(client, mod, first["id"], purge_comments=True)
    assert list_comments(client)["article"]["comment_count"] == 1

    response = client.delete(f"{MOD}/bans/{created['id']}", query_string={"restore_comments": "true"}, headers=mod)
    assert response.status_code == 204
    assert _statuses(client, mod, [first["id"], reply["id"], held["id"]]) == ["approved", "approved", "pending"]
    after = list_comments(client)
    assert after["article"]["comment_count"] == before["article"]["comment_count"]
    assert after["comments"][1]["reply_count"] == 1 and after["comments"][1]["replies"][0]["id"] == reply["id"]
    pending = client.get(f"{MOD}/comments", headers=mod).get_json()["comments"]
    assert [(c["id"], c["moderation_reason"]) for c in pending] == [(held["id"], "premoderation")]
    entries = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"]
    assert (entries[0]["action"], entries[0]["target"]) == ("ban.lift", f"ban:{created['id']}")
    assert sorted(entries[0]["details"]["restored_comment_ids"]) == sorted([first["id"], reply["id"], held["id"]])
    assert sum(1 for e in entries if e["details"].get("restored_by_ban_lift") == created["id"]) == 3
    posted(bob.post("forgiven"))


def test_a_moderators_later_decision_wins_over_the_restore(client, mod):
    bob = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    kept, approved_then_rejected, spam = (posted(bob.post(f"bob {n}"))["id"] for n in range(3))
    created = ban(client, mod, kept, purge_comments=True)
    decide = lambda comment_id, status: client.patch(  # noqa: E731
        f"{MOD}/comments/{comment_id}", json={"status": status}, headers=mod
    )
    assert decide(approved_then_rejected, "approved").status_code == 200
    assert decide(approved_then_rejected, "rejected").status_code == 200
    assert decide(spam, "spam").status_code == 200

    client.delete(f"{MOD}/bans/{created['id']}", query_string={"restore_comments": "true"}, headers=mod)
    assert _statuses(client, mod, [kept, approved_then_rejected, spam]) == ["approved", "rejected", "spam"]
    assert list_comments(client)["article"]["comment_count"] == 1


def test_lifting_without_restore_restores_nothing(client, mod):
    bob = Reader(client, TROLL_ADDRESS, token=mint_reader(client))
    comment = posted(bob.post("bob"))
    created = ban(client, mod, comment["id"], purge_comments=True)
    assert client.delete(f"{MOD}/bans/{created['id']}", headers=mod).status_code == 204
    assert _statuses(client, mod, [comment["id"]]) == ["rejected"]
    entry = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
    assert entry["action"] == "ban.lift" and "restored_comment_ids" not in entry["details"]
    # ... and a lifted ban cannot be lifted again to restore later
    response = client.delete(f"{MOD}/bans/{created['id']}", query_string={"restore_comments": "true"}, headers=mod)
    assert_error(response, 404, "not_found")
    assert_error(
        client.delete(f"{MOD}/bans/{created['id']}", query_string={"restore_comments": "maybe"}, headers=mod),
        422, "validation_error",
    )


def test_preview_and_restore_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    preview = spec["paths"]["/api/v1/mod/bans/preview"]["get"]
    assert [p["name"] for p in preview["parameters"] if p["in"] == "query"] == ["comment_id"]
    assert "200" in preview["responses"]
    lift = spec["paths"]["/api/v1/mod/bans/{ban_id}"]["delete"]
    assert "restore_comments" in [p["name"] for p in lift["parameters"]]
