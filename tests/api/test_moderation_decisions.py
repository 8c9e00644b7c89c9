"""Moderator decisions: status, pinning, body edits, bulk changes and purging, each audited."""
from __future__ import annotations

import pytest

from tests.factories import (
    assert_error,
    create_api_token,
    flag_comment,
    list_comments,
    mint_reader,
    mod_headers,
    post_comment,
    reader_headers,
)

MOD = "/api/v1/mod"




def patch(client, headers, comment_id, expect=200, **changes):
    response = client.patch(f"{MOD}/comments/{comment_id}", json=changes, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def audit_entries(client, headers, limit=100):
    response = client.get(f"{MOD}/audit", query_string={"limit": limit}, headers=headers)
    assert response.status_code == 200
    return response.get_json()["entries"]


def queue(client, headers, **params):
    return client.get(f"{MOD}/comments", query_string=params, headers=headers).get_json()["comments"]


def public_ids(client, **params):
    return [c["id"] for c in list_comments(client, **params)["comments"]]


class TestStatus:
    def test_approving_a_held_comment_publishes_it_and_is_audited(self, app_factory):
        app = app_factory(MODERATION="pre")
        client, mod = app.test_client(), mod_headers(create_api_token(app, name="mod"))
        held = post_comment(client, body="wait for it")
        assert public_ids(client) == []

        decided = patch(client, mod, held["id"], status="approved")
        assert decided["status"] == "approved"
        page = list_comments(client)
        assert [c["id"] for c in page["comments"]] == [held["id"]]
        assert page["article"]["comment_count"] == 1

        [entry] = audit_entries(client, mod)[:1]
        assert entry["actor"] == "mod"
        assert entry["action"] == "comment.status"
        assert entry["target"] == f"comment:{held['id']}"
        assert entry["details"]["before"] == "pending" and entry["details"]["after"] == "approved"
        assert entry["at"].endswith("Z")

    @pytest.mark.parametrize("status", ["rejected", "spam", "pending"])
    def test_hiding_a_public_comment_takes_it_out_of_the_thread(self, client, mod, status):
        comment = post_comment(client, body="visible")
        decided = patch(client, mod, comment["id"], status=status)
        assert decided["status"] == status
        page = list_comments(client)
        assert page["comments"] == [] and page["article"]["comment_count"] == 0
        entry = audit_entries(client, mod)[0]
        assert (entry["action"], entry["details"]["before"], entry["details"]["after"]) == (
            "comment.status", "approved", status,
        )

    def test_moving_back_to_pending_says_a_moderator_held_it(self, client, mod):
        comment = post_comment(client)
        assert patch(client, mod, comment["id"], status="pending")["moderation_reason"] == "moderator"

    def test_reply_counts_follow_decisions(self, client, mod):
        top = post_comment(client, body="top")
        reply = post_comment(client, body="reply", parent_id=top["id"])
        patch(client, mod, reply["id"], status="rejected")
        [thread] = list_comments(client)["comments"]
        assert thread["reply_count"] == 0 and thread["replies"] == []
        patch(client, mod, reply["id"], status="approved")
        [thread] = list_comments(client)["comments"]
        assert thread["reply_count"] == 1 and [r["id"] for r in thread["replies"]] == [reply["id"]]
        assert list_comments(client)["article"]["comment_count"] == 2

    def test_a_comment_withdrawn_by_its_author_cannot_be_revived(self, client, mod):
        comment = post_comment(client)
        client.delete(f"/api/v1/comments/{comment['id']}", headers={"X-Edit-Token": comment["edit_token"]})
        before = audit_entries(client, mod)
        for status in ("approved", "pending", "rejected", "spam"):
            response = client.patch(f"{MOD}/comments/{comment['id']}", json={"status": status}, headers=mod)
            assert_error(response, 409, "conflict")
        assert queue(client, mod, status="deleted")[0]["id"] == comment["id"]
        assert audit_entries(client, mod) == before

    def test_approving_closes_open_flags(self, client, mod):
        comment = post_comment(client)
        flag_comment(client, comment["id"], "abuse", headers=reader_headers(mint_reader(client)))
        flag_comment(client, comment["id"], "spam", headers=reader_headers(mint_reader(client)))
        decided = patch(client, mod, comment["id"], status="approved")  # already public: dismisses the reports
        assert decided["flags"] == {"open": 0, "reasons": {}, "notes": []}
        assert queue(client, mod, status="flagged") == []
        assert audit_entries(client, mod)[0]["details"]["open_flags_resolved"] == 2

    @pytest.mark.parametrize("status", ["rejected", "spam"])
    def test_rejecting_resolves_open_flags(self, client, mod, status):
        comment = post_comment(client)
        flag_comment(client, comment["id"], "abuse")
        patch(client, mod, comment["id"], status=status)
        assert queue(client, mod, status="flagged") == []

    def test_holding_keeps_the_flags_open(self, client, mod):
        comment = post_comment(client)
        flag_comment(client, comment["id"], "abuse")
        assert patch(client, mod, comment["id"], status="pending")["flags"]["open"] == 1
        assert [c["id"] for c in queue(client, mod, status="flagged")] == [comment["id"]]

    def test_unknown_comment_is_404(self, client, mod):
        assert_error(client.patch(f"{MOD}/comments/424242", json={"status": "approved"}, headers=mod), 404, "not_found")
        assert_error(
            client.patch(f"{MOD}/comments/99999999999", json={"status": "approved"}, headers=mod), 404, "not_found"
        )

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({}, "_schema"),
            ({"status": "deleted"}, "status"),
            ({"status": "published"}, "status"),
            ({"pinned": "yes"}, "pinned"),
            ({"pinned": 1}, "pinned"),
            ({"body": "   "}, "body"),
            ({"body": "x" * 10_001}, "body"),
            ({"status": "approved", "colour": "red"}, "colour"),
        ],
    )
    def test_invalid_decisions_are_422(self, client, mod, payload, field):
        comment = post_comment(client)
        response = client.patch(f"{MOD}/comments/{comment['id']}", json=payload, headers=mod)
        assert field in assert_error(response, 422, "validation_error")["fields"]


class TestBodyEdit:
    def test_edit_goes_through_the_sanitiser_and_sets_edited_at(self, client, mod):
        comment = post_comment(client, body="I said something rude")
        edited = patch(client, mod, comment["id"], body="[removed by a moderator] <script>alert(1)</script> *ok*")
        assert edited["edited_at"] is not None
        assert "<script>" not in edited["body_html"] and "&lt;script&gt;" in edited["body_html"]
        assert "<em>ok</em>" in edited["body_html"]
        [public] = list_comments(client)["comments"]
        assert public["body_html"] == edited["body_html"] and public["edited_at"] == edited["edited_at"]
        # the source is kept: the queue search finds the new text
        found = queue(client, mod, status="approved", q="removed by a moderator")
        assert [c["id"] for c in found] == [comment["id"]]
        entry = audit_entries(client, mod)[0]
        assert entry["action"] == "comment.edit" and entry["details"]["before"] == entry["details"]["after"] == "approved"

    def test_several_changes_in_one_patch_make_one_entry(self, client, mod):
        comment = post_comment(client)
        before = len(audit_entries(client, mod))
        patch(client, mod, comment["id"], status="approved", pinned=True, body="tidied")
        entries = audit_entries(client, mod)
        assert len(entries) == before + 1
        assert entries[0]["action"] == "comment.update"
        assert entries[0]["details"]["pinned"] == {"before": False, "after": True}


class TestPinning:
    def test_pin_is_audited_and_reply_cannot_be_pinned(self, client, mod):
        top = post_comment(client, body="top")
        reply = post_comment(client, body="reply", parent_id=top["id"])
        assert patch(client, mod, top["id"], pinned=True)["pinned"] is True
        entry = audit_entries(client, mod)[0]
        assert entry["action"] == "comment.pin" and entry["details"]["pinned"] == {"before": False, "after": True}
        response = client.patch(f"{MOD}/comments/{reply['id']}", json={"pinned": True}, headers=mod)
        assert "pinned" in assert_error(response, 422, "validation_error")["fields"]

    @pytest.mark.parametrize("sort", ["oldest", "newest", "top"])
    def test_pinned_comes_first_on_the_first_page_only_and_never_repeats(self, client, mod, sort):
        created = [post_comment(client, body=f"comment {n}")["id"] for n in range(6)]
        pinned = created[3]
        patch(client, mod, pinned, pinned=True)

        pages, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = list_comments(client, **params)
            pages.append([c["id"] for c in page["comments"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        walked = [comment_id for page in pages for comment_id in page]
        assert pages[0][0] == pinned
        assert walked.count(pinned) == 1
        assert sorted(walked) == sorted(created)
        rest = [comment_id for comment_id in created if comment_id != pinned]
        # all scores are equal: `top` then puts newer first, like `newest`
        expected = rest if sort == "oldest" else list(reversed(rest))
        assert walked[1:] == expected
        assert list_comments(client, sort=sort)["comments"][0]["pinned"] is True

    def test_unpinning_restores_the_order(self, client, mod):
        first, second = post_comment(client, body="a")["id"], post_comment(client, body="b")["id"]
        patch(client, mod, second, pinned=True)
        assert public_ids(client) == [second, first]
        patch(client, mod, second, pinned=False)
        assert public_ids(client) == [first, second]


class TestBulk:
    def test_bulk_approve_publishes_all_and_audits_each(self, app_factory):
        app = app_factory(MODERATION="pre")
        client, mod = app.test_client(), mod_headers(create_api_token(app, name="mod"))
        held = [post_comment(client, body=f"held {n}")["id"] for n in range(3)]
        response = client.post(f"{MOD}/comments/bulk", json={"ids": held + [held[0]], "status": "approved"}, headers=mod)
        assert response.status_code == 200
        assert response.get_json() == {"updated": 3}
        assert public_ids(client) == held
        assert list_comments(client)["article"]["comment_count"] == 3
        entries = [e for e in audit_entries(client, mod) if e["action"] == "comment.status"]
        assert sorted(e["target"] for e in entries) == sorted(f"comment:{i}" for i in held)
        assert all(e["details"]["before"] == "pending" and e["details"]["after"] == "approved" for e in entries)

    def test_comments_already_in_that_status_are_not_counted(self, client, mod):
        a, b = post_comment(client, body="a")["id"], post_comment(client, body="b")["id"]
        patch(client, mod, a, status="rejected")
        response = client.post(f"{MOD}/comments/bulk", json={"ids": [a, b], "status": "rejected"}, headers=mod)
        assert response.get_json() == {"updated": 1}

    def test_bulk_decisions_close_open_flags(self, client, mod):
        reported = post_comment(client, body="reported")["id"]
        quiet = post_comment(client, body="quiet")["id"]
        flag_comment(client, reported, "abuse")
        response = client.post(f"{MOD}/comments/bulk", json={"ids": [reported, quiet], "status": "approved"}, headers=mod)
        assert response.get_json() == {"updated": 1}  # already public; only the reports were dismissed
        assert queue(client, mod, status="flagged") == []
        assert audit_entries(client, mod)[0]["details"]["open_flags_resolved"] == 1

    @pytest.mark.parametrize("bad", ["unknown", "withdrawn"])
    def test_one_bad_id_changes_nothing(self, client, mod, bad):
        good = [post_comment(client, body=f"good {n}")["id"] for n in range(3)]
        if bad == "unknown":
            bad_id = 424242
        else:
            withdrawn = post_comment(client, body="withdrawn")
            client.delete(f"/api/v1/comments/{withdrawn['id']}", headers={"X-Edit-Token": withdrawn["edit_token"]})
            bad_id = withdrawn["id"]
        audit_before = audit_entries(client, mod)

        response = client.post(f"{MOD}/comments/bulk", json={"ids": good + [bad_id], "status": "spam"}, headers=mod)
        error = assert_error(response, 422, "validation_error")
        assert str(bad_id) in " ".join(error["fields"]["ids"])
        assert public_ids(client) == good
        assert list_comments(client)["article"]["comment_count"] == 3
        assert audit_entries(client, mod) == audit_before

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({"ids": [], "status": "approved"}, "ids"),
            ({"ids": list(range(1, 502)), "status": "approved"}, "ids"),
            ({"ids": [1], "status": "deleted"}, "status"),
            ({"ids": ["x"], "status": "approved"}, "ids.0"),
            ({"ids": [1]}, "status"),
            ({"status": "approved"}, "ids"),
        ],
    )
    def test_invalid_bulk_requests_are_422(self, client, mod, payload, field):
        response = client.post(f"{MOD}/comments/bulk", json=payload, headers=mod)
        assert field in assert_error(response, 422, "validation_error")["fields"]

    def test_a_status_moderators_cannot_set_is_explained_in_the_api_s_values(self, client, mod):
        response = client.post(f"{MOD}/comments/bulk", json={"ids": [1], "status": "deleted"}, headers=mod)
        message = assert_error(response, 422, "validation_error")["fields"]["status"]
        assert "approved, rejected, spam, pending" in str(message) and "CommentStatus" not in str(message)

    def test_five_hundred_ids_are_within_the_limit(self, client, mod):
        comment = post_comment(client)["id"]
        ids = [comment] + list(range(900_000, 900_499))
        response = client.post(f"{MOD}/comments/bulk", json={"ids": ids, "status": "rejected"}, headers=mod)
        # refused for the unknown ids, not for their number
        assert assert_error(response, 422, "validation_error")["fields"]["ids"][0].startswith("Unknown comment ids")


class TestPurge:
    def test_purge_leaves_a_tombstone_and_replies_intact(self, client, mod, admin):
        top = post_comment(
            client, body="doxxing here", author_name="Mallory", author_email="m@example.com",
            author_url="https://mallory.example",
        )
        reply = post_comment(client, body="please remove that", parent_id=top["id"])
        flag_comment(client, top["id"], "abuse", note="it has an address in it")

        response = client.delete(f"{MOD}/comments/{top['id']}", headers=admin)
        assert response.status_code == 204 and response.data == b""

        page = list_comments(client)
        [placeholder] = page["comments"]
        assert placeholder["id"] == top["id"]
        assert placeholder["deleted"] is True
        assert placeholder["body_html"] == "" and placeholder["author"] is None
        assert [r["id"] for r in placeholder["replies"]] == [reply["id"]]
        assert placeholder["replies"][0]["body_html"] == "<p>please remove that</p>"
        assert page["article"]["comment_count"] == 1

        [tombstone] = queue(client, mod, status="rejected")
        assert tombstone["id"] == top["id"]
        assert tombstone["body_html"] == "" and tombstone["author_email"] is None
        assert tombstone["author"]["name"] == "Anonymous" and tombstone["author"]["url"] is None
        assert tombstone["purged_at"] is not None and tombstone["moderation_reason"] == "purged"
        assert tombstone["flags"]["open"] == 0
        assert queue(client, mod, status="rejected", q="doxxing") == []

        entry = audit_entries(client, mod)[0]
        assert (entry["actor"], entry["action"], entry["target"]) == ("root", "comment.purge", f"comment:{top['id']}")
        assert entry["details"] == {"before": "approved", "after": "rejected"}

    def test_purged_comment_cannot_be_edited_or_revived(self, client, mod, admin):
        comment = post_comment(client)
        client.delete(f"{MOD}/comments/{comment['id']}", headers=admin)
        assert_error(
            client.patch(f"{MOD}/comments/{comment['id']}", json={"status": "approved"}, headers=mod), 409, "conflict"
        )
        response = client.post(f"{MOD}/comments/bulk", json={"ids": [comment["id"]], "status": "approved"}, headers=mod)
        assert_error(response, 422, "validation_error")
        # nor by its author
        response = client.patch(
            f"/api/v1/comments/{comment['id']}", json={"body": "back"}, headers={"X-Edit-Token": comment["edit_token"]}
        )
        assert_error(response, 404, "not_found")
        assert public_ids(client) == []

    def test_purge_without_replies_removes_it_and_twice_is_harmless(self, client, mod, admin):
        comment = post_comment(client)
        assert client.delete(f"{MOD}/comments/{comment['id']}", headers=admin).status_code == 204
        assert public_ids(client) == []
        entries = len(audit_entries(client, mod))
        assert client.delete(f"{MOD}/comments/{comment['id']}", headers=admin).status_code == 204
        assert len(audit_entries(client, mod)) == entries

    def test_purging_an_unknown_comment_is_404(self, client, admin):
        assert_error(client.delete(f"{MOD}/comments/424242", headers=admin), 404, "not_found")
