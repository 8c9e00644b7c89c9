"""Readers' own data: their comments (GET /me/comments) and erasure (DELETE /me, the
admin's DELETE /mod/readers/sso/{sub}, `engagement erase --email`), with every counter
still equal to a recount from the rows afterwards."""
from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import (
    ActivityBucket, Article, AuditEntry, Comment, CommentRevision, CommentStatus, CommentVote, Flag, Reaction,
    ReactionTotal,
)
from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    browser_headers,
    flag_comment,
    get_article,
    list_comments,
    mint_reader,
    post_comment,
    react,
    reader_headers,
    send_view,
    vote,
)
from tests.support.sso import SSO_SETTINGS, signed_in_headers

SECOND_ARTICLE = "another-article"


@pytest.fixture(params=["sql", "redis"])
def app(request, app_factory):
    """Sign-on configured; views counted in SQL, and (with REDIS_URL) in Redis."""
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        return app_factory(**SSO_SETTINGS, REDIS_URL=os.environ["REDIS_URL"])
    return app_factory(**SSO_SETTINGS)


def recount_mismatches(app) -> list[str]:
    """Every stored counter that differs from a recount of the rows it counts."""
    problems = []
    with app.app_context():
        session = db.session
        comments = session.scalars(sa.select(Comment)).all()
        approved = [c for c in comments if c.status is CommentStatus.APPROVED]
        per_article = Counter(c.article_id for c in approved)
        replies = Counter(c.parent_id for c in approved if c.parent_id is not None)
        votes = session.scalars(sa.select(CommentVote)).all()
        open_flags = Counter(f.comment_id for f in session.scalars(sa.select(Flag).where(Flag.resolved_at.is_(None))))
        for article in session.scalars(sa.select(Article)):
            if article.comment_count != per_article[article.id]:
                problems.append(f"article {article.key}: comment_count {article.comment_count} != {per_article[article.id]}")
        for comment in comments:
            mine = [v.value for v in votes if v.comment_id == comment.id]
            expected = (sum(mine), mine.count(1), mine.count(-1), replies[comment.id], open_flags[comment.id])
            stored = (comment.score, comment.upvotes, comment.downvotes, comment.reply_count, comment.open_flag_count)
            if stored != expected:
                problems.append(f"comment {comment.id}: (score, up, down, replies, flags) {stored} != {expected}")
        reactions = Counter((r.article_id, r.kind) for r in session.scalars(sa.select(Reaction)))
        totals = {(t.article_id, t.kind): t.count for t in session.scalars(sa.select(ReactionTotal))}
        for key in set(reactions) | set(totals):
            if totals.get(key, 0) != reactions[key]:
                problems.append(f"reaction total {key}: {totals.get(key, 0)} != {reactions[key]}")
        # Everything happened within the hour: each article's bucket holds all its activity.
        buckets = session.execute(
            sa.select(ActivityBucket.article_id, sa.func.sum(ActivityBucket.comments), sa.func.sum(ActivityBucket.reactions))
            .group_by(ActivityBucket.article_id)
        ).all()
        per_article_reactions = Counter(article_id for article_id, _ in reactions.elements())
        for article_id, bucket_comments, bucket_reactions in buckets:
            expected_bucket = (per_article[article_id], per_article_reactions[article_id])
            if (bucket_comments, bucket_reactions) != expected_bucket:
                problems.append(f"trending bucket {article_id}: {(bucket_comments, bucket_reactions)} != {expected_bucket}")
        session.remove()
    return problems


def _edit(client, comment: dict[str, Any], body: str) -> None:
    response = client.patch(f"/api/v1/comments/{comment['id']}", json={"body": body},
                            headers={"X-Edit-Token": comment["edit_token"]})
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def busy_threads(client) -> dict[str, Any]:
    """Two articles with comments, replies, votes, reactions, views and flags by three
    readers: Ana (signed in, on two devices), Bea (an anonymous token) and Caio (signed in)."""
    ana_laptop = signed_in_headers(client, "ana")
    ana_phone = signed_in_headers(client, "ana")
    bea = reader_headers(mint_reader(client))
    caio = signed_in_headers(client, "caio", name="Caio", email="caio@news.example")

    ana_top = post_comment(client, body="Ana's first", headers=ana_laptop)
    _edit(client, ana_top, "Ana's first, edited")
    bea_top = post_comment(client, body="Bea's view", headers=bea, author_email="bea@example.org")
    ana_reply = post_comment(client, body="Ana answers Bea", headers=ana_phone, parent_id=bea_top["id"])
    bea_reply = post_comment(client, body="Bea answers Ana", headers=bea, parent_id=ana_top["id"])
    caio_deep = post_comment(client, body="Caio under Ana's reply", headers=caio, parent_id=ana_reply["id"])
    ana_second = post_comment(client, SECOND_ARTICLE, body="Ana elsewhere", headers=ana_laptop)
    caio_second = post_comment(client, SECOND_ARTICLE, body="Caio elsewhere", headers=caio)
    withdrawn = post_comment(client, body="Ana thinks again", headers=ana_laptop)
    assert client.delete(f"/api/v1/comments/{withdrawn['id']}",
                         headers={"X-Edit-Token": withdrawn["edit_token"]}).status_code == 204

    for voter, target, value in [
        (ana_laptop, bea_top, 1), (ana_phone, caio_deep, -1), (ana_laptop, caio_second, 1), (bea, ana_top, 1),
        (caio, ana_top, -1), (caio, bea_top, 1), (bea, caio_second, -1), (caio, ana_second, 1),
    ]:
        vote(client, target["id"], value, headers=voter)
    for reader, kinds, article in [
        (ana_laptop, ["like", "love"], DEFAULT_ARTICLE), (ana_phone, ["like", "sad"], SECOND_ARTICLE),
        (bea, ["like"], DEFAULT_ARTICLE), (caio, ["love", "sad"], SECOND_ARTICLE),
    ]:
        for kind in kinds:
            react(client, kind, article, headers=browser_headers(reader["X-Reader-Token"]))
    for number, reader in enumerate([ana_laptop, ana_phone, bea, caio]):
        for article in (DEFAULT_ARTICLE, SECOND_ARTICLE):
            send_view(client, article, headers=browser_headers(reader["X-Reader-Token"]), address=f"203.0.113.{number}")
    flag_comment(client, caio_deep["id"], headers=ana_laptop, note="rude")
    flag_comment(client, ana_top["id"], headers=bea)
    assert recount_mismatches(client.application) == []
    return {
        "ana": ana_laptop, "bea": bea, "caio": caio,
        "ana_comments": [ana_top, ana_reply, ana_second, withdrawn], "bea_top": bea_top, "bea_reply": bea_reply,
        "caio_deep": caio_deep,
    }


def _views(client) -> dict[str, int]:
    return {key: get_article(client, key)["views"] for key in (DEFAULT_ARTICLE, SECOND_ARTICLE)}


def test_erasing_a_signed_in_reader_keeps_every_count_exact(client, busy_threads):
    views = _views(client)
    assert views == {DEFAULT_ARTICLE: 3, SECOND_ARTICLE: 3}  # Ana's two devices count once

    response = client.delete("/api/v1/me", headers=busy_threads["ana"])
    assert response.status_code == 202
    assert response.get_json() == {
        "comments": 4, "revisions": 1, "votes": 3, "reactions": 4, "flags": 1, "view_marks": 2, "accounts": 1,
    }
    assert recount_mismatches(client.application) == []
    assert _views(client) == views  # anonymous aggregates stay

    thread = list_comments(client)
    assert thread["article"]["comment_count"] == 3  # Bea's two, Caio's one
    ana_top = next(c for c in thread["comments"] if c["id"] == busy_threads["ana_comments"][0]["id"])
    assert ana_top["deleted"] and ana_top["author"] is None and ana_top["body_html"] == ""
    assert [reply["id"] for reply in ana_top["replies"]] == [busy_threads["bea_reply"]["id"]]
    assert ana_top["score"] == 0  # Bea's +1 and Caio's -1 stay on the placeholder
    bea_top = next(c for c in thread["comments"] if c["id"] == busy_threads["bea_top"]["id"])
    assert bea_top["score"] == 1 and bea_top["reply_count"] == 0  # Ana's vote and reply are gone
    # Caio's reply under Ana's erased reply stays readable.
    assert bea_top["replies"][0]["deleted"] and bea_top["replies"][0]["replies"][0]["id"] == busy_threads["caio_deep"]["id"]

    with client.application.app_context():
        erased_ids = [c["id"] for c in busy_threads["ana_comments"]]
        rows = db.session.scalars(sa.select(Comment).where(Comment.id.in_(erased_ids))).all()
        assert {(c.body_source, c.author_name, c.author_email, c.avatar_url) for c in rows} == {("", None, None, None)}
        assert sorted(c.reader_hash for c in rows) == sorted(f"erased:{c.id}" for c in rows)
        assert all(c.status is CommentStatus.DELETED for c in rows)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CommentRevision)) == 0
        entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "reader.erase")).one()
        assert (entry.actor, entry.target) == ("reader", "reader:account") and entry.details["comments"] == 4
        db.session.remove()

    # The account is gone: its reader token no longer says who it is.
    assert_error(client.get("/api/v1/me", headers=busy_threads["ana"]), 401, "unauthorized")
    assert client.get("/api/v1/me/comments", headers=busy_threads["ana"]).get_json()["comments"] == []


def test_erasing_an_anonymous_reader_keeps_every_count_exact(client, busy_threads):
    response = client.delete("/api/v1/me", headers=busy_threads["bea"])
    assert response.get_json() == {
        "comments": 2, "revisions": 0, "votes": 2, "reactions": 1, "flags": 1, "view_marks": 2, "accounts": 0,
    }
    assert recount_mismatches(client.application) == []
    # Bea's token still works: an anonymous reader simply starts afresh.
    assert client.get("/api/v1/me/comments", headers=busy_threads["bea"]).get_json()["comments"] == []
    post_comment(client, body="Starting afresh", headers=busy_threads["bea"])


def test_erasure_needs_a_reader_token(client, busy_threads):
    assert_error(client.delete("/api/v1/me"), 401, "unauthorized")
    assert_error(client.get("/api/v1/me/comments"), 401, "unauthorized")


def test_the_site_erases_an_account_server_to_server(client, busy_threads, mod, admin):
    assert_error(client.delete("/api/v1/mod/readers/sso/caio", headers=mod), 403, "forbidden")
    assert_error(client.delete("/api/v1/mod/readers/sso/caio"), 401, "unauthorized")
    response = client.delete("/api/v1/mod/readers/sso/caio", headers=admin)
    assert response.status_code == 202
    assert response.get_json() == {
        "comments": 2, "revisions": 0, "votes": 3, "reactions": 2, "flags": 0, "view_marks": 2, "accounts": 1,
    }
    assert recount_mismatches(client.application) == []
    # Again: nothing left to erase.
    assert client.delete("/api/v1/mod/readers/sso/caio", headers=admin).get_json()["comments"] == 0
    audit = client.get("/api/v1/mod/audit", headers=admin).get_json()["entries"]
    assert [(e["actor"], e["action"], e["target"]) for e in audit[:2]] == [("root", "reader.erase", "reader:account")] * 2
    assert "caio" not in str(audit).replace("Caio", "")


def test_erasure_by_email_from_the_command_line(client, busy_threads, mod):
    result = client.application.test_cli_runner().invoke(args=["engagement", "erase", "--email", "Bea@EXAMPLE.org"])
    assert result.exit_code == 0, result.output
    assert "1 comments" in result.output  # the one comment Bea signed with her address
    assert recount_mismatches(client.application) == []
    queue = client.get("/api/v1/mod/comments?status=all", headers=mod).get_json()["comments"]
    assert "bea@example.org" not in str(queue).lower()
    audit = client.get("/api/v1/mod/audit", headers=mod).get_json()["entries"]
    assert audit[0]["actor"] == "cli" and audit[0]["target"] == "reader:email"
    assert "bea" not in str(audit[0]).lower()

    # A site account is found by its address too, and erased whole.
    result = client.application.test_cli_runner().invoke(args=["engagement", "erase", "--email", "caio@news.example"])
    assert "1 accounts" in result.output and "3 votes" in result.output
    assert recount_mismatches(client.application) == []

    bad = client.application.test_cli_runner().invoke(args=["engagement", "erase", "--email", "not an address"])
    assert bad.exit_code != 0


def test_my_comments_lists_every_status_newest_first_with_a_cursor(client, mod):
    headers = signed_in_headers(client)
    ids = [post_comment(client, body=f"Comment {n}", headers=headers)["id"] for n in range(5)]
    held = client.patch(f"/api/v1/mod/comments/{ids[1]}", json={"status": "spam"}, headers=mod)
    assert held.status_code == 200
    post_comment(client, body="Not mine", headers=reader_headers(mint_reader(client)))

    seen, cursor = [], None
    while True:
        response = client.get("/api/v1/me/comments", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                              headers=headers)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment")
        page = response.get_json()
        seen.extend(page["comments"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [c["id"] for c in seen] == ids[::-1]
    spam = next(c for c in seen if c["id"] == ids[1])
    assert spam["status"] == "pending" and spam["body_source"] == "Comment 1"  # spam looks held to its author
    assert spam["author_email"] == "ana@news.example"
    assert_error(client.get("/api/v1/me/comments?cursor=forged", headers=headers), 422, "validation_error")
