"""Abuse resistance of comment threads (issue 10): each attack reproduced, then shown harmless.

Attacks: the spam verdict leaked to its author through edit and delete (item 14); a
held parent hid its approved replies while ``comment_count`` still counted them (item
18); the avatar confirmed e-mail guesses and linked one reader's personas (item 5).
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.factories import list_comments, mint_reader, post_comment, reader_headers

MOD = "/api/v1/mod"
ARTICLE = "an-article"
# Values that differ between any two comments, whatever their status.
PER_COMMENT = {"id", "created_at", "edited_at", "author"}
VOLATILE_HEADERS = {"Date", "Content-Length", "X-Request-Id"}


def moderate(client, headers, comment_id, **changes):
    response = client.patch(f"{MOD}/comments/{comment_id}", json=changes, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def visible_nodes(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every comment object of a thread page, nested replies included."""
    found = []
    for comment in comments:
        found.append(comment)
        found.extend(visible_nodes(comment["replies"]))
    return found


def readable_ids(client, article=ARTICLE) -> list[int]:
    """The approved comments a reader can find: every node that is not a placeholder."""
    return [node["id"] for node in visible_nodes(list_comments(client, article)["comments"]) if not node["deleted"]]


def assert_counts_consistent(client, article=ARTICLE) -> None:
    page = list_comments(client, article)
    readable = [node for node in visible_nodes(page["comments"]) if not node["deleted"]]
    assert page["article"]["comment_count"] == len(readable)


# --- item 14: spam looks exactly like pending to its author --------------------------------

def _comparable(response) -> tuple[int, Any, dict[str, str]]:
    body = response.get_json(silent=True) if response.data else response.data
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if name not in PER_COMMENT}
    headers = {name: value for name, value in response.headers.items() if name not in VOLATILE_HEADERS}
    return response.status_code, body, headers


@pytest.fixture
def held_pair(client, mod):
    """Two readers' comments on a pre-moderated article: one held for review, one a honeypot hit."""
    assert client.put(f"{MOD}/articles/{ARTICLE}", json={"moderation": "pre"}, headers=mod).status_code == 200
    pending = post_comment(client, body="Same words.", headers=reader_headers(mint_reader(client)))
    spam = post_comment(client, body="Same words.", headers=reader_headers(mint_reader(client)), website="x")
    statuses = {c["id"]: c["status"] for c in client.get(f"{MOD}/comments?status=spam", headers=mod).get_json()["comments"]}
    assert statuses == {spam["id"]: "spam"}
    return pending, spam


def _edit(client, comment, body):
    return client.patch(
        f"/api/v1/comments/{comment['id']}", json={"body": body}, headers={"X-Edit-Token": comment["edit_token"]}
    )


def _delete(client, comment, token=None):
    return client.delete(
        f"/api/v1/comments/{comment['id']}", headers={"X-Edit-Token": token or comment["edit_token"]}
    )


def test_editing_spam_answers_exactly_like_editing_a_pending_comment(client, mod, held_pair):
    pending, spam = held_pair
    answers = [_edit(client, comment, "Better words.") for comment in held_pair]
    assert answers[0].status_code == 200  # was 404 for the spam one: the verdict leaked
    assert _comparable(answers[0]) == _comparable(answers[1])
    assert answers[1].get_json()["status"] == "pending"
    assert answers[1].get_json()["body_html"] == "<p>Better words.</p>"
    # the verdict stands for moderators
    spam_queue = client.get(f"{MOD}/comments?status=spam", headers=mod).get_json()["comments"]
    assert [c["id"] for c in spam_queue] == [spam["id"]]


def test_wrong_token_answers_alike(client, held_pair):
    answers = [_delete(client, comment, token="not-the-token") for comment in held_pair]
    assert _comparable(answers[0]) == _comparable(answers[1])
    assert answers[0].status_code == 403


def test_deleting_spam_answers_exactly_like_deleting_a_pending_comment(client, mod, held_pair):
    first = [_delete(client, comment) for comment in held_pair]
    assert first[0].status_code == 204
    assert _comparable(first[0]) == _comparable(first[1])
    second = [_delete(client, comment) for comment in held_pair]
    assert second[0].status_code == 404
    assert _comparable(second[0]) == _comparable(second[1])
    edits_after = [_edit(client, comment, "Back again.") for comment in held_pair]
    assert _comparable(edits_after[0]) == _comparable(edits_after[1])
    assert list_comments(client)["comments"] == []


# --- item 18: a held parent keeps its approved replies visible -------------------------------

@pytest.mark.parametrize("held_as", ["pending", "rejected", "spam"])
def test_held_top_level_comment_keeps_its_approved_replies_visible(client, mod, held_as):
    parent = post_comment(client, body="The parent.")
    reply = post_comment(client, body="A good reply.", parent_id=parent["id"])
    moderate(client, mod, parent["id"], status=held_as)

    page = list_comments(client)
    assert page["article"]["comment_count"] == 1
    [placeholder] = page["comments"]  # was []: the counted reply could not be found
    assert placeholder["id"] == parent["id"]
    assert placeholder["deleted"] is True
    assert placeholder["body_html"] == "" and placeholder["author"] is None
    assert [r["id"] for r in placeholder["replies"]] == [reply["id"]]
    assert placeholder["replies"][0]["body_html"] == "<p>A good reply.</p>"
    assert_counts_consistent(client)


def test_held_nested_comments_keep_deeper_replies_visible(client, mod):
    top = post_comment(client, body="top")
    middle = post_comment(client, body="middle", parent_id=top["id"])
    lower = post_comment(client, body="lower", parent_id=middle["id"])
    deepest = post_comment(client, body="deepest", parent_id=lower["id"])
    moderate(client, mod, middle["id"], status="pending")
    assert readable_ids(client) == [top["id"], lower["id"], deepest["id"]]
    assert_counts_consistent(client)

    # two held levels in a row, the upper one without any approved direct reply
    moderate(client, mod, lower["id"], status="rejected")
    [shown_top] = list_comments(client)["comments"]
    [shown_middle] = shown_top["replies"]
    [shown_lower] = shown_middle["replies"]
    assert (shown_middle["id"], shown_middle["deleted"]) == (middle["id"], True)
    assert (shown_lower["id"], shown_lower["deleted"]) == (lower["id"], True)
    assert [r["id"] for r in shown_lower["replies"]] == [deepest["id"]]
    assert readable_ids(client) == [top["id"], deepest["id"]]
    assert_counts_consistent(client)

    # and with the top held too: everything readable is still reachable
    moderate(client, mod, top["id"], status="spam")
    assert readable_ids(client) == [deepest["id"]]
    assert_counts_consistent(client)


def test_held_comments_without_visible_replies_stay_hidden(client, mod):
    top = post_comment(client, body="top")
    reply = post_comment(client, body="reply", parent_id=top["id"])
    under = post_comment(client, body="under the reply", parent_id=reply["id"])
    lonely = post_comment(client, body="lonely")
    moderate(client, mod, under["id"], status="rejected")
    moderate(client, mod, reply["id"], status="pending")
    moderate(client, mod, lonely["id"], status="pending")
    page = list_comments(client)
    assert [c["id"] for c in page["comments"]] == [top["id"]]
    assert page["comments"][0]["replies"] == []
    assert_counts_consistent(client)


def test_the_author_of_a_held_comment_still_sees_its_body(client, mod):
    assert client.put(f"{MOD}/articles/{ARTICLE}", json={"moderation": "pre"}, headers=mod).status_code == 200
    posted = post_comment(client, body="Mine.")
    assert (posted["status"], posted["deleted"], posted["body_html"]) == ("pending", False, "<p>Mine.</p>")
    assert posted["author"] is not None
    edited = client.patch(
        f"/api/v1/comments/{posted['id']}", json={"body": "Still mine."}, headers={"X-Edit-Token": posted["edit_token"]}
    ).get_json()
    assert (edited["status"], edited["deleted"], edited["body_html"]) == ("pending", False, "<p>Still mine.</p>")


def test_held_parents_and_pagination(client, mod):
    tops = [post_comment(client, body=f"top {n}") for n in range(5)]
    replies = [post_comment(client, body=f"reply {n}", parent_id=top["id"]) for n, top in enumerate(tops)]
    for top in tops[::2]:
        moderate(client, mod, top["id"], status="rejected")
    found, cursor = [], None
    while True:
        page = list_comments(client, **({"limit": 2, "cursor": cursor} if cursor else {"limit": 2}))
        found.extend(page["comments"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [c["id"] for c in found] == [top["id"] for top in tops]
    readable = [node["id"] for node in visible_nodes(found) if not node["deleted"]]
    assert sorted(readable) == sorted([r["id"] for r in replies] + [t["id"] for t in tops[1::2]])
    assert page["article"]["comment_count"] == len(readable)


# --- item 5: avatars reveal nothing an attacker can test or link ------------------------------

def _avatar(client, token, **fields):
    return post_comment(client, headers=reader_headers(token), **fields)["author"]["avatar"]


def test_posting_a_victims_email_does_not_show_the_victims_avatar(client):
    victim, attacker = mint_reader(client), mint_reader(client)
    email = "victim@example.org"
    theirs = _avatar(client, victim, body="I am the victim.", author_name="Vic", author_email=email)
    # a honeypot post is never published, yet it answered with the victim's avatar
    guessed = _avatar(client, attacker, body="guess 1", author_name="Vic", author_email=email, website="x")
    assert guessed != theirs
    assert _avatar(client, attacker, body="guess 2", author_email=email) != theirs
    assert _avatar(client, attacker, body="guess 3", author_email="VICTIM@example.org") != theirs
    other = _avatar(client, attacker, body="guess 4", author_name="Vic", author_email="someone@example.org")
    assert other != guessed  # the attacker's own avatars say nothing either


def test_one_readers_personas_have_unlinkable_avatars(client):
    reader = mint_reader(client)
    named = _avatar(client, reader, body="named", author_name="Ana")
    anonymous = _avatar(client, reader, body="anonymous")
    alias = _avatar(client, reader, body="alias", author_name="Not Ana")
    with_email = _avatar(client, reader, body="with email", author_name="Ana", author_email="ana@example.org")
    assert len({named, anonymous, alias, with_email}) == 4


def test_same_reader_same_name_same_thread_keeps_one_avatar(client):
    reader = mint_reader(client)
    first = _avatar(client, reader, body="one", author_name="Ana", author_email="ana@example.org")
    assert _avatar(client, reader, body="two", author_name="Ana", author_email="ana@example.org") == first
    assert _avatar(client, reader, body="three", author_name="ana", author_email=" ANA@example.org") == first
    anonymous = _avatar(client, reader, body="four")
    assert _avatar(client, reader, body="five") == anonymous
    assert len(first) == 16 and int(first, 16) >= 0


def test_avatars_do_not_link_threads(client):
    reader = mint_reader(client)
    here = _avatar(client, reader, body="here", author_name="Ana")
    there = post_comment(client, "another-article", body="there", headers=reader_headers(reader), author_name="Ana")
    assert there["author"]["avatar"] != here
