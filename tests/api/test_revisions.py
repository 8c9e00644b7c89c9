"""Comment revisions: every body edit keeps the text it replaced; moderators read the history.

Attacks reproduced (issue 10): a moderator's body edit left no trace (item 15); an edit
of moderator-approved text kept the moderator's approval (item 3, the revision part).
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Comment, CommentRevision, Editor
from tests.factories import assert_error, list_comments, post_comment

MOD = "/api/v1/mod"


def edit(client, comment, body, expect=200):
    response = client.patch(
        f"/api/v1/comments/{comment['id']}", json={"body": body}, headers={"X-Edit-Token": comment["edit_token"]}
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def moderate(client, headers, comment_id, **changes):
    response = client.patch(f"{MOD}/comments/{comment_id}", json=changes, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def revisions(client, headers, comment_id):
    response = client.get(f"{MOD}/comments/{comment_id}/revisions", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["revisions"]


def stored(app, comment_id):
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        return comment.revision, comment.approved_revision


def public(client, comment_id):
    [found] = [c for c in list_comments(client)["comments"] if c["id"] == comment_id]
    return found


class TestModeratorEdits:
    def test_a_moderator_edit_keeps_the_original_and_is_marked_publicly(self, app, client, mod):
        posted = post_comment(client, body="The *original* words.")
        assert posted["edited_by"] is None

        edited = moderate(client, mod, posted["id"], body="[removed by the editors]")
        assert edited["edited_by"] == "moderator"
        shown = public(client, posted["id"])
        assert shown["edited_by"] == "moderator"
        assert shown["body_html"] == "<p>[removed by the editors]</p>"

        [kept] = revisions(client, mod, posted["id"])
        assert kept["revision"] == 1
        assert kept["body_source"] == "The *original* words."
        assert kept["body_html"] == "<p>The <em>original</em> words.</p>"
        assert kept["edited_at"] == posted["created_at"]
        assert kept["editor"] == "moderator" and kept["actor"] == "mod"
        assert kept["replaced_at"] == edited["edited_at"]
        # the moderator vouches for their own text
        assert stored(app, posted["id"]) == (2, 2)

    def test_the_audit_entry_keeps_the_replaced_revision_number(self, client, mod):
        posted = post_comment(client, body="first")
        moderate(client, mod, posted["id"], body="second")
        moderate(client, mod, posted["id"], body="third")
        entries = client.get(f"{MOD}/audit", headers=mod).get_json()["entries"]
        edits = [e for e in entries if e["action"] == "comment.edit"]
        assert [e["details"]["revision"] for e in edits] == [{"before": 2, "after": 3}, {"before": 1, "after": 2}]
        assert [r["body_source"] for r in revisions(client, mod, posted["id"])] == ["first", "second"]

    def test_the_moderator_view_and_queue_show_who_edited(self, client, mod):
        posted = post_comment(client, body="first")
        moderate(client, mod, posted["id"], body="second")
        [listed] = client.get(f"{MOD}/comments?status=approved", headers=mod).get_json()["comments"]
        assert listed["edited_by"] == "moderator"


class TestAuthorEdits:
    def test_an_author_edit_stores_the_replaced_text(self, app, client, mod):
        posted = post_comment(client, body="Frist!")
        edited = edit(client, posted, "First!")
        assert edited["edited_by"] == "author"
        assert public(client, posted["id"])["edited_by"] == "author"
        [kept] = revisions(client, mod, posted["id"])
        assert (kept["revision"], kept["body_source"], kept["editor"], kept["actor"]) == (1, "Frist!", "author", None)
        assert stored(app, posted["id"]) == (2, None)

    def test_history_is_oldest_first_across_editors(self, client, mod):
        posted = post_comment(client, body="one")
        edit(client, posted, "two")
        moderate(client, mod, posted["id"], body="three")
        edited = edit(client, posted, "four")
        assert edited["edited_by"] == "author"  # the current text is the author's again
        history = revisions(client, mod, posted["id"])
        assert [(r["revision"], r["body_source"], r["editor"]) for r in history] == [
            (1, "one", "author"), (2, "two", "moderator"), (3, "three", "author"),
        ]

    def test_a_concurrent_edit_of_the_same_version_conflicts(self, app, client):
        """The unique (comment, revision) pair decides which of two racing edits wins."""
        posted = post_comment(client, body="one")
        with app.app_context():
            comment = db.session.get(Comment, posted["id"])
            db.session.add(CommentRevision(
                comment_id=comment.id, revision=1, body_source="one", body_html="<p>one</p>",
                edited_at=comment.created_at, editor=Editor.AUTHOR, actor=None, replaced_at=comment.created_at,
            ))
            db.session.commit()
        response = client.patch(
            f"/api/v1/comments/{posted['id']}", json={"body": "two"}, headers={"X-Edit-Token": posted["edit_token"]}
        )
        assert_error(response, 409, "conflict")
        assert public(client, posted["id"])["body_html"] == "<p>one</p>"

    def test_an_author_edit_moves_past_the_moderators_approval(self, app, client, mod):
        """Item 3: an approval (or pin) covers one version of the text, not the next one."""
        posted = post_comment(client, body="harmless")
        moderate(client, mod, posted["id"], status="approved", pinned=True)
        assert stored(app, posted["id"]) == (1, 1)
        edit(client, posted, "something else entirely")
        assert stored(app, posted["id"]) == (2, 1)

    @pytest.mark.parametrize("changes", [{"status": "approved"}, {"pinned": True}])
    def test_approving_or_pinning_vouches_for_the_current_revision(self, app, client, mod, changes):
        posted = post_comment(client, body="harmless")
        edit(client, posted, "edited once")
        assert stored(app, posted["id"]) == (2, None)
        moderate(client, mod, posted["id"], **changes)
        assert stored(app, posted["id"]) == (2, 2)

    def test_bulk_approval_vouches_for_each_current_revision(self, app, client, mod):
        a, b = post_comment(client, body="a"), post_comment(client, body="b")
        edit(client, a, "a, edited")
        response = client.post(f"{MOD}/comments/bulk", json={"ids": [a["id"], b["id"]], "status": "approved"}, headers=mod)
        assert response.status_code == 200
        assert stored(app, a["id"]) == (2, 2) and stored(app, b["id"]) == (1, 1)

    def test_unpinning_and_holding_do_not_vouch(self, app, client, mod):
        posted = post_comment(client, body="harmless")
        moderate(client, mod, posted["id"], pinned=False)
        moderate(client, mod, posted["id"], status="pending")
        assert stored(app, posted["id"]) == (1, None)


class TestHistoryEndpoint:
    def test_unknown_comment_is_404(self, client, mod):
        assert_error(client.get(f"{MOD}/comments/424242/revisions", headers=mod), 404, "not_found")
        assert_error(client.get(f"{MOD}/comments/99999999999/revisions", headers=mod), 404, "not_found")

    def test_needs_a_moderator_token(self, client):
        posted = post_comment(client)
        assert_error(client.get(f"{MOD}/comments/{posted['id']}/revisions"), 401, "unauthorized")
        bad = {"Authorization": "Bearer nope"}
        assert_error(client.get(f"{MOD}/comments/{posted['id']}/revisions", headers=bad), 401, "unauthorized")

    def test_an_unedited_comment_has_no_history(self, client, mod):
        assert revisions(client, mod, post_comment(client)["id"]) == []

    def test_documented_in_openapi(self, client):
        spec = client.get("/api/v1/openapi.json").get_json()
        assert "get" in spec["paths"]["/api/v1/mod/comments/{comment_id}/revisions"]
        public_shape = spec["components"]["schemas"]["PublicComment"]["properties"]
        assert "edited_by" in public_shape


class TestPurge:
    def test_purging_erases_every_earlier_version(self, app, client, mod, admin):
        posted = post_comment(client, body="my phone number is 555-0100")
        edit(client, posted, "oops, removed")
        moderate(client, mod, posted["id"], body="[edited]")
        assert len(revisions(client, mod, posted["id"])) == 2

        assert client.delete(f"{MOD}/comments/{posted['id']}", headers=admin).status_code == 204
        assert revisions(client, admin, posted["id"]) == []
        with app.app_context():
            left = db.session.scalar(sa.select(sa.func.count()).select_from(CommentRevision))
            assert left == 0
