"""Comment endpoints through HTTP: posting, threads, editing, deleting."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    list_comments,
    mint_reader,
    post_comment,
    reader_headers,
)


def test_post_and_list_a_comment(client):
    created = post_comment(client, body="Hello **world**", author_name="Ana", author_url="https://ana.example")
    assert created["status"] == "approved"
    assert created["body_html"] == "<p>Hello <strong>world</strong></p>"
    assert created["author"]["name"] == "Ana"
    assert created["author"]["url"] == "https://ana.example"
    assert created["edit_token"]
    assert created["created_at"].endswith("Z") and created["edited_at"] is None

    page = list_comments(client)
    assert page["article"] == {"key": DEFAULT_ARTICLE, "comment_count": 1, "comments_closed": False,
                               "premoderated": False, "sign_in_required": False, "reply_notifications": False}
    assert page["comments"][0]["author"]["verified"] is False
    assert [c["id"] for c in page["comments"]] == [created["id"]]
    assert "edit_token" not in page["comments"][0]
    assert page["next_cursor"] is None


def test_untouched_article_lists_empty_without_creating_it(client):
    page = list_comments(client, "never-seen")
    assert page == {
        "article": {"key": "never-seen", "comment_count": 0, "comments_closed": False, "premoderated": False,
                    "sign_in_required": False, "reply_notifications": False},
        "comments": [],
        "next_cursor": None,
        "has_earlier": False,
    }


def test_anonymous_author_gets_default_name_and_empty_fields_are_absent(client):
    created = post_comment(client, author_name="   ", author_email="", author_url=" ")
    assert created["author"]["name"] == "Anonymous"
    assert created["author"]["url"] is None


def test_replies_nest_oldest_first_with_reply_counts(client):
    top = post_comment(client, body="top")
    first = post_comment(client, body="first reply", parent_id=top["id"])
    second = post_comment(client, body="second reply", parent_id=top["id"])
    nested = post_comment(client, body="nested", parent_id=first["id"])

    [thread] = list_comments(client)["comments"]
    assert thread["reply_count"] == 2
    assert [r["id"] for r in thread["replies"]] == [first["id"], second["id"]]
    assert thread["replies"][0]["replies"][0]["id"] == nested["id"]
    assert thread["replies"][0]["reply_count"] == 1
    assert list_comments(client)["article"]["comment_count"] == 4


def test_reply_beyond_max_depth_is_attached_at_max_depth(app_factory):
    client = app_factory(MAX_DEPTH=2).test_client()
    chain = [post_comment(client, body="depth 0")]
    for depth in range(1, 5):
        chain.append(post_comment(client, body=f"depth {depth}", parent_id=chain[-1]["id"]))
    # depth 3 and 4 were attached beside the depth-2 comment, under the depth-1 comment
    assert chain[3]["parent_id"] == chain[1]["id"]
    assert chain[4]["parent_id"] == chain[1]["id"]

    [thread] = list_comments(client)["comments"]
    level1 = thread["replies"][0]
    assert [r["id"] for r in level1["replies"]] == [chain[2]["id"], chain[3]["id"], chain[4]["id"]]
    assert all(r["replies"] == [] for r in level1["replies"])


def test_parent_must_exist_be_public_and_belong_to_the_article(client):
    other = post_comment(client, "other-article")
    assert_error(
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "x", "parent_id": 999999}),
        404, "not_found",
    )
    error = assert_error(
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "x", "parent_id": other["id"]}),
        422, "validation_error",
    )
    assert "parent_id" in error["fields"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"body": ""}, "body"),
        ({"body": "   \n\t "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({}, "body"),
        ({"body": 5}, "body"),
        ({"body": "ok", "author_email": "not-an-email"}, "author_email"),
        ({"body": "ok", "author_url": "javascript:alert(1)"}, "author_url"),
        ({"body": "ok", "author_url": "ftp://files.example"}, "author_url"),
        ({"body": "ok", "author_name": "x" * 81}, "author_name"),
        ({"body": "ok", "parent_id": "abc"}, "parent_id"),
        ({"body": "ok", "parent_id": 2**40}, "parent_id"),
        ({"body": "ok", "colour": "red"}, "colour"),
    ],
)
def test_invalid_comment_bodies_get_422_on_the_field(client, payload, field):
    error = assert_error(
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json=payload), 422, "validation_error"
    )
    assert field in error["fields"]


def test_body_at_the_length_limit_is_accepted(client):
    post_comment(client, body="x" * 10_000)


def test_nul_bytes_and_lone_surrogates_never_cause_a_500(client):
    # JSON escapes, as a hostile client would send them (they cannot be encoded as UTF-8 directly)
    raw = '{"body": "nul\\u0000 and \\ud800 surrogate", "author_name": "A\\u0000na"}'
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", data=raw, content_type="application/json"
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert "\u0000" not in created["body_html"] and "\ud800" not in created["body_html"]
    assert created["author"]["name"] == "Ana"
    assert list_comments(client)["comments"][0]["id"] == created["id"]


def test_bad_article_key_is_404(client):
    assert_error(client.post("/api/v1/articles/-bad/comments", json={"body": "x"}), 404, "not_found")
    assert_error(client.get("/api/v1/articles/" + "a" * 201 + "/comments"), 404, "not_found")
    assert_error(client.get("/api/v1/articles/a%20b/comments"), 404, "not_found")


def test_same_body_from_same_reader_within_window_is_409(client):
    token = mint_reader(client)
    post_comment(client, body="Same words", headers=reader_headers(token))
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Same words"}, headers=reader_headers(token)
    )
    assert_error(response, 409, "conflict")
    # another reader may say the same thing
    post_comment(client, body="Same words", headers=reader_headers(mint_reader(client)))


def test_same_body_is_allowed_again_after_the_duplicate_window(client):
    token = mint_reader(client)
    with time_machine.travel("2026-01-01 12:00:00Z", tick=False) as clock:
        post_comment(client, body="Again", headers=reader_headers(token))
        clock.shift(timedelta(minutes=11))
        post_comment(client, body="Again", headers=reader_headers(token))


def test_honeypot_never_publishes(client):
    created = post_comment(client, body="Buy things", website="http://spam.example")
    assert created["status"] != "approved"
    assert list_comments(client)["comments"] == []


def test_premoderation_holds_comments(app_factory):
    client = app_factory(MODERATION="pre").test_client()
    created = post_comment(client)
    assert created["status"] == "pending"
    page = list_comments(client)
    assert page["comments"] == [] and page["article"]["comment_count"] == 0


class TestEditAndDelete:
    def test_edit_within_window(self, client):
        created = post_comment(client, body="before")
        response = client.patch(
            f"/api/v1/comments/{created['id']}", json={"body": "*after*"},
            headers={"X-Edit-Token": created["edit_token"]},
        )
        assert response.status_code == 200
        edited = response.get_json()
        assert edited["body_html"] == "<p><em>after</em></p>"
        assert edited["edited_at"] is not None
        assert list_comments(client)["comments"][0]["body_html"] == "<p><em>after</em></p>"

    @pytest.mark.parametrize("headers", [{}, {"X-Edit-Token": "wrong"}, {"X-Edit-Token": ""}])
    def test_missing_or_wrong_token_is_403(self, client, headers):
        created = post_comment(client)
        url = f"/api/v1/comments/{created['id']}"
        assert_error(client.patch(url, json={"body": "x"}, headers=headers), 403, "forbidden")
        assert_error(client.delete(url, headers=headers), 403, "forbidden")

    def test_token_of_another_comment_is_403(self, client):
        mine = post_comment(client, body="mine")
        theirs = post_comment(client, body="theirs")
        response = client.patch(
            f"/api/v1/comments/{theirs['id']}", json={"body": "x"}, headers={"X-Edit-Token": mine["edit_token"]}
        )
        assert_error(response, 403, "forbidden")

    def test_after_the_edit_window_is_403(self, client):
        with time_machine.travel("2026-01-01 12:00:00Z", tick=False) as clock:
            created = post_comment(client)
            headers = {"X-Edit-Token": created["edit_token"]}
            clock.shift(timedelta(minutes=15, seconds=1))
            url = f"/api/v1/comments/{created['id']}"
            assert_error(client.patch(url, json={"body": "late"}, headers=headers), 403, "forbidden")
            assert_error(client.delete(url, headers=headers), 403, "forbidden")

    def test_unknown_comment_is_404(self, client):
        headers = {"X-Edit-Token": "anything"}
        assert_error(client.patch("/api/v1/comments/424242", json={"body": "x"}, headers=headers), 404, "not_found")
        assert_error(client.delete("/api/v1/comments/424242", headers=headers), 404, "not_found")
        assert_error(client.delete("/api/v1/comments/99999999999999", headers=headers), 404, "not_found")

    def test_edit_validates_the_body(self, client):
        created = post_comment(client)
        response = client.patch(
            f"/api/v1/comments/{created['id']}", json={"body": " "}, headers={"X-Edit-Token": created["edit_token"]}
        )
        assert "body" in assert_error(response, 422, "validation_error")["fields"]

    def test_delete_without_replies_removes_it(self, client):
        created = post_comment(client)
        response = client.delete(f"/api/v1/comments/{created['id']}", headers={"X-Edit-Token": created["edit_token"]})
        assert response.status_code == 204 and response.data == b""
        page = list_comments(client)
        assert page["comments"] == [] and page["article"]["comment_count"] == 0
        # deleting twice: it is gone
        again = client.delete(f"/api/v1/comments/{created['id']}", headers={"X-Edit-Token": created["edit_token"]})
        assert_error(again, 404, "not_found")

    def test_delete_with_replies_leaves_a_placeholder(self, client):
        top = post_comment(client, body="top", author_name="Ana")
        reply = post_comment(client, body="reply", parent_id=top["id"])
        client.delete(f"/api/v1/comments/{top['id']}", headers={"X-Edit-Token": top["edit_token"]})

        page = list_comments(client)
        [placeholder] = page["comments"]
        assert placeholder["deleted"] is True
        assert placeholder["body_html"] == "" and placeholder["author"] is None
        assert [r["id"] for r in placeholder["replies"]] == [reply["id"]]
        assert page["article"]["comment_count"] == 1

    def test_deleted_reply_chain_without_visible_descendants_disappears(self, client):
        top = post_comment(client, body="top")
        middle = post_comment(client, body="middle", parent_id=top["id"])
        leaf = post_comment(client, body="leaf", parent_id=middle["id"])
        for comment in (leaf, middle):
            client.delete(f"/api/v1/comments/{comment['id']}", headers={"X-Edit-Token": comment["edit_token"]})
        [thread] = list_comments(client)["comments"]
        assert thread["replies"] == [] and thread["reply_count"] == 0

    def test_cannot_reply_to_a_deleted_comment(self, client):
        top = post_comment(client)
        client.delete(f"/api/v1/comments/{top['id']}", headers={"X-Edit-Token": top["edit_token"]})
        assert_error(
            client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "x", "parent_id": top["id"]}),
            404, "not_found",
        )


def test_thread_page_comments_are_what_the_schema_would_dump(app, client, mod):
    """Thread pages write comments without a per-field schema dump: it must equal the dump.

    The thread holds every kind of node: named and anonymous authors, an author URL,
    votes, a pinned comment, a reader's edit and a moderator's edit, a withdrawn
    comment standing as a placeholder above its reply, a held reply's placeholder.
    """
    from engagement.extensions import db
    from engagement.clock import utcnow
    from engagement.schemas.comments import PublicCommentSchema, public_comment_document
    from engagement.services.articles import find_article_row
    from engagement.services.comments import Sort, list_thread

    named = post_comment(client, body="**named**", author_name="Ana", author_url="https://ana.example")
    anonymous = post_comment(client, body="anonymous")
    reply = post_comment(client, body="a reply", parent_id=named["id"])
    post_comment(client, body="deeper", parent_id=reply["id"])
    withdrawn = post_comment(client, body="to be withdrawn")
    post_comment(client, body="reply to the withdrawn one", parent_id=withdrawn["id"])
    client.delete(f"/api/v1/comments/{withdrawn['id']}", headers={"X-Edit-Token": withdrawn["edit_token"]})
    held_parent = post_comment(client, body="its reply will be held")
    held = post_comment(client, body="held reply", parent_id=held_parent["id"])
    post_comment(client, body="visible under a held reply", parent_id=held["id"])
    client.patch(f"/api/v1/mod/comments/{held['id']}", json={"status": "pending"}, headers=mod)
    spam = post_comment(client, body="marked as spam", parent_id=anonymous["id"])
    post_comment(client, body="visible under spam", parent_id=spam["id"])
    client.patch(f"/api/v1/mod/comments/{spam['id']}", json={"status": "spam"}, headers=mod)
    client.patch(f"/api/v1/comments/{anonymous['id']}", json={"body": "edited by its reader"},
                 headers={"X-Edit-Token": anonymous["edit_token"]})
    client.patch(f"/api/v1/mod/comments/{named['id']}", json={"pinned": True, "body": "moderated"}, headers=mod)
    client.post(f"/api/v1/comments/{reply['id']}/vote", json={"value": 1}, headers={"X-Reader-Token": mint_reader(client)})

    with app.test_request_context():
        settings = app.extensions["engagement.settings"]
        page = list_thread(
            db.session, app.extensions["engagement.keyring"], settings,
            article_key=DEFAULT_ARTICLE, article=find_article_row(db.session, DEFAULT_ARTICLE), sort=Sort.OLDEST,
            limit=50, cursor=None, now=utcnow(),
        )
        nodes = list(page.comments)
        kinds = set()
        while nodes:
            node = nodes.pop()
            nodes.extend(node.replies)
            kinds |= {("deleted", node.deleted), ("pinned", node.comment.pinned), ("edited", node.edited_by),
                      ("status", node.comment.status.value)}
            assert public_comment_document(node) == PublicCommentSchema().dump(node)
    assert {("deleted", True), ("pinned", True), ("edited", "moderator"), ("edited", "author"),
            ("status", "spam"), ("status", "pending"), ("status", "deleted")} <= kinds
    # And the page itself carries exactly those documents.
    assert list_comments(client)["comments"] == [public_comment_document(node) for node in page.comments]


def test_posted_comments_are_what_the_schema_would_dump(app, client):
    """A posted comment is answered without a per-field schema dump: it must equal the dump.

    Named with a URL, anonymous, a reply, one held for its links and one the honeypot
    caught (answered as held): each response equals the schema's own dump of the comment.
    """
    from marshmallow import Schema

    from engagement.extensions import db
    from engagement.models import Comment
    from engagement.schemas.comments import PostedCommentSchema
    from engagement.services.comments import ThreadNode

    parent = post_comment(client, body="answered below")
    answers = [
        post_comment(client, body="**named**", author_name="Ana", author_url="https://ana.example"),
        post_comment(client, body="anonymous"),
        post_comment(client, body="a reply", parent_id=parent["id"]),
        post_comment(client, body=" ".join(f"https://link{number}.example" for number in range(12))),
        post_comment(client, body="caught", website="http://spam.example"),
    ]
    assert {answer["status"] for answer in answers} == {"approved", "pending"}
    schema = PostedCommentSchema()
    with app.test_request_context():
        anonymous_name = app.extensions["engagement.settings"].anonymous_name
        for answer in answers:
            node = ThreadNode(db.session.get(Comment, answer["id"]), DEFAULT_ARTICLE, anonymous_name,
                              edit_token=answer["edit_token"])
            assert schema.dump(node) == Schema.dump(schema, node) == answer
