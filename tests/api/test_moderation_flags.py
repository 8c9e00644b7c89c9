"""Reader flags: one per reader per comment; independent readers reaching the threshold hold the comment."""
from __future__ import annotations

import pytest

from tests.factories import (
    assert_error,
    create_api_token,
    established_reader,
    flag_comment,
    list_comments,
    mint_reader,
    mod_headers,
    network_address,
    post_comment,
    reader_headers,
)

MOD = "/api/v1/mod"



def flagged(client, mod):
    return client.get(f"{MOD}/comments", query_string={"status": "flagged"}, headers=mod).get_json()["comments"]


def public_ids(client):
    return [c["id"] for c in list_comments(client)["comments"]]


def test_a_flag_is_accepted_with_202(client, mod):
    comment = post_comment(client)
    response = flag_comment(client, comment["id"], "off_topic", note="About another article")
    assert response.get_json() == {"status": "accepted"}
    [reported] = flagged(client, mod)
    assert reported["flags"]["reasons"] == {"off_topic": 1}
    assert reported["flags"]["notes"][0]["note"] == "About another article"


def flag_as_independent_reader(client, comment_id, n, reason="abuse"):
    """A flag from an established reader on the ``n``-th network."""
    flag_comment(
        client, comment_id, reason, headers=reader_headers(established_reader(client)), address=network_address(n)
    )


def test_independent_readers_reaching_the_threshold_hold_the_comment(client, mod):
    comment = post_comment(client, body="contested")
    other = post_comment(client, body="fine")
    for n in range(2):
        flag_as_independent_reader(client, comment["id"], n)
    assert public_ids(client) == [comment["id"], other["id"]]

    flag_as_independent_reader(client, comment["id"], 2)
    page = list_comments(client)
    assert [c["id"] for c in page["comments"]] == [other["id"]]
    assert page["article"]["comment_count"] == 1
    [held] = client.get(f"{MOD}/comments", headers=mod).get_json()["comments"]
    assert (held["id"], held["status"], held["moderation_reason"]) == (comment["id"], "pending", "flagged")
    assert held["flags"]["open"] == 3


def test_the_same_reader_repeating_counts_once(client, mod):
    comment = post_comment(client)
    token = reader_headers(mint_reader(client))
    for reason in ("abuse", "spam", "abuse", "other"):
        response = flag_comment(client, comment["id"], reason, headers=token)
        assert response.get_json() == {"status": "accepted"}
    assert public_ids(client) == [comment["id"]]
    [reported] = flagged(client, mod)
    assert reported["flags"]["open"] == 1
    assert reported["flags"]["reasons"] == {"abuse": 1}  # the repeat changed nothing


def test_without_a_token_the_address_and_agent_identify_the_reader(client):
    comment = post_comment(client)

    def flag_from(address, agent):
        response = client.post(
            f"/api/v1/comments/{comment['id']}/flags", json={"reason": "spam"},
            headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 202

    for _ in range(3):
        flag_from("198.51.100.1", "Browser/1.0")
    assert public_ids(client) == [comment["id"]]
    # Tokenless readers weigh half; each network counts once.
    flag_from("198.51.100.1", "Browser/2.0")
    flag_from("198.51.100.2", "Browser/1.0")
    assert public_ids(client) == [comment["id"]]
    for n in range(5):
        flag_from(network_address(n), "Browser/1.0")
    assert public_ids(client) == []  # six networks of fresh readers


def test_threshold_is_configurable(app_factory):
    app = app_factory(FLAG_THRESHOLD=1)
    client = app.test_client()
    comment = post_comment(client)
    flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)))
    assert public_ids(client) == []


def test_after_approval_earlier_flags_are_closed_and_new_flags_only_reach_the_queue(app_factory):
    app = app_factory(FLAG_THRESHOLD=2)
    client, mod = app.test_client(), mod_headers(create_api_token(app))
    comment = post_comment(client)
    first, second = (reader_headers(established_reader(client)) for _ in range(2))
    flag_comment(client, comment["id"], headers=first, address=network_address(1))
    flag_comment(client, comment["id"], headers=second, address=network_address(2))
    assert public_ids(client) == []

    client.patch(f"{MOD}/comments/{comment['id']}", json={"status": "approved"}, headers=mod)
    assert public_ids(client) == [comment["id"]]
    assert flagged(client, mod) == []
    # A moderator approved this text: flags only reach the queue, they never hold it again.
    flag_comment(client, comment["id"], headers=first, address=network_address(1))
    for n in range(3, 7):
        flag_comment(client, comment["id"], headers=reader_headers(established_reader(client)), address=network_address(n))
    assert public_ids(client) == [comment["id"]]
    assert flagged(client, mod)[0]["flags"]["open"] == 4


@pytest.mark.parametrize("state", ["pending", "rejected", "spam", "withdrawn", "unknown"])
def test_only_public_comments_can_be_flagged(client, mod, state):
    comment = post_comment(client)
    if state == "withdrawn":
        client.delete(f"/api/v1/comments/{comment['id']}", headers={"X-Edit-Token": comment["edit_token"]})
    elif state != "unknown":
        client.patch(f"{MOD}/comments/{comment['id']}", json={"status": state}, headers=mod)
    comment_id = 424242 if state == "unknown" else comment["id"]
    assert_error(flag_comment(client, comment_id, expect=404), 404, "not_found")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "reason"),
        ({"reason": "boring"}, "reason"),
        ({"reason": "other", "note": "x" * 501}, "note"),
        ({"reason": "other", "note": 5}, "note"),
        ({"reason": "other", "severity": "high"}, "severity"),
    ],
)
def test_invalid_flags_are_422(client, body, field):
    comment = post_comment(client)
    response = client.post(f"/api/v1/comments/{comment['id']}/flags", json=body)
    assert field in assert_error(response, 422, "validation_error")["fields"]


def test_note_is_plain_text_and_blank_means_none(client, mod):
    comment = post_comment(client)
    flag_comment(client, comment["id"], "other", headers=reader_headers(mint_reader(client)), note="  ")
    flag_comment(
        client, comment["id"], "other", headers=reader_headers(mint_reader(client)), note="<b>look</b>\u202e\nhere"
    )
    [reported] = flagged(client, mod)
    assert [n["note"] for n in reported["flags"]["notes"]] == ["<b>look</b> here"]


def test_a_bad_reader_token_is_401(client):
    comment = post_comment(client)
    assert_error(flag_comment(client, comment["id"], headers={"X-Reader-Token": "forged"}, expect=401), 401, "unauthorized")
