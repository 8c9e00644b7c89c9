"""The blocklist: whole-word, case-insensitive, Unicode-aware; hold or reject; edits apply at once."""
from __future__ import annotations

import pytest

from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    create_api_token,
    list_comments,
    mod_headers,
    post_comment,
)
from tests.sql import counting_statements

MOD = "/api/v1/mod"



def put_blocklist(client, mod, expect=200, **body):
    response = client.put(f"{MOD}/blocklist", json=body, headers=mod)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_empty_by_default_with_hold(client, mod):
    assert client.get(f"{MOD}/blocklist", headers=mod).get_json() == {"words": [], "action": "hold"}


@pytest.mark.parametrize(
    "body",
    [
        "you are bad",
        "BAD idea",
        "Bad.",
        "so bad!",
        "(bad)",
        "**bad**",
        "\"bad\"",
        "ｂａｄ",  # full-width letters
        "ＢＡＤ news",
        "b\u200bad",  # a zero-width space inside
        "line one\nbad",
    ],
)
def test_listed_words_hold_the_comment_in_any_case_punctuation_or_width(client, mod, body):
    put_blocklist(client, mod, words=["bad"], action="hold")
    created = post_comment(client, body=body)
    assert created["status"] == "pending"
    assert list_comments(client)["comments"] == []
    [held] = client.get(f"{MOD}/comments", headers=mod).get_json()["comments"]
    assert held["moderation_reason"] == "blocklist"


@pytest.mark.parametrize("body", ["badger", "a sinbad story", "badly", "bad_thing", "ba d", "b-a-d"])
def test_words_inside_longer_words_do_not_match(client, mod, body):
    put_blocklist(client, mod, words=["bad"])
    assert post_comment(client, body=body)["status"] == "approved"


def test_listed_words_are_normalised_too(client, mod):
    put_blocklist(client, mod, words=["ＳＴＲＡＳＳＥ", "go away"])
    assert post_comment(client, body="Die Straße ist lang")["status"] == "pending"
    assert post_comment(client, body="just GO   away!")["status"] == "pending"
    assert post_comment(client, body="go on, stay")["status"] == "approved"


def test_reject_action_refuses_with_422_on_body(client, mod):
    put_blocklist(client, mod, words=["scam"], action="reject")
    response = client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "total SCAM!"})
    assert "body" in assert_error(response, 422, "validation_error")["fields"]
    assert client.get(f"{MOD}/comments", query_string={"status": "rejected"}, headers=mod).get_json()["comments"] == []


def test_an_edit_into_a_listed_word_is_held(client, mod):
    put_blocklist(client, mod, words=["bad"])
    created = post_comment(client, body="fine")
    response = client.patch(
        f"/api/v1/comments/{created['id']}", json={"body": "now bad"}, headers={"X-Edit-Token": created["edit_token"]}
    )
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert list_comments(client)["comments"] == []


def test_put_replaces_the_list_deduplicates_and_keeps_the_action_when_absent(client, mod):
    put_blocklist(client, mod, words=["old"], action="reject")
    result = put_blocklist(client, mod, words=["Bad", "ｂａｄ", "bad", " worse "])
    assert result == {"words": ["Bad", "worse"], "action": "reject"}
    assert client.get(f"{MOD}/blocklist", headers=mod).get_json() == result
    post_comment(client, body="old news")  # no longer listed
    entry = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"][0]
    assert entry["action"] == "blocklist.replace" and entry["actor"] == "mod"
    assert entry["details"]["added"] == ["Bad", "worse"] and entry["details"]["removed"] == ["old"]


def test_an_edit_takes_effect_at_once_for_every_worker(app_factory):
    first, second = app_factory(), app_factory()  # two processes sharing the database
    mod = mod_headers(create_api_token(first))
    put_blocklist(first.test_client(), mod, words=["bad"])
    assert post_comment(second.test_client(), body="bad")["status"] == "pending"
    put_blocklist(first.test_client(), mod, words=["worse"])  # the second keeps the list it read
    assert post_comment(second.test_client(), body="bad again")["status"] == "approved"
    assert post_comment(second.test_client(), body="even worse")["status"] == "pending"
    put_blocklist(first.test_client(), mod, words=[])
    assert post_comment(second.test_client(), body="worse still")["status"] == "approved"


def test_a_post_reads_the_list_only_after_an_edit(app, client, mod):
    """A worker keeps the list it read until its version changes: a post reads one row, not a thousand."""
    put_blocklist(client, mod, words=[f"word{n}" for n in range(1000)])

    def statements_reading_the_list(body):
        with counting_statements(app) as statements:
            assert post_comment(client, body=body)["status"] == "approved"
        return [statement for statement in statements if "blocked_words" in statement]

    assert len(statements_reading_the_list("first")) == 1
    assert statements_reading_the_list("second") == []
    put_blocklist(client, mod, words=[f"word{n}" for n in range(999)])
    assert len(statements_reading_the_list("after the edit")) == 1
    assert statements_reading_the_list("and again") == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"words": ["x" * 101]}, "words.0"),
        ({"words": ["ok", "   "]}, "words.1"),
        ({"words": [""]}, "words.0"),
        ({"words": [5]}, "words.0"),
        ({"words": "bad"}, "words"),
        ({"words": [f"w{n}" for n in range(1001)]}, "words"),
        ({"words": ["ok"], "action": "delete"}, "action"),
        ({"action": "hold"}, "words"),
        ({"words": [], "extra": 1}, "extra"),
    ],
)
def test_invalid_blocklists_are_422_and_change_nothing(client, mod, body, field):
    put_blocklist(client, mod, words=["keep"])
    response = client.put(f"{MOD}/blocklist", json=body, headers=mod)
    assert field in assert_error(response, 422, "validation_error")["fields"]
    assert client.get(f"{MOD}/blocklist", headers=mod).get_json() == {"words": ["keep"], "action": "hold"}


def test_a_thousand_words_are_accepted(client, mod):
    words = [f"word{n}" for n in range(1000)]
    assert len(put_blocklist(client, mod, words=words)["words"]) == 1000
    assert post_comment(client, body="word999 here")["status"] == "pending"
