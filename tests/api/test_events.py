"""Events are recorded in the transaction of their change: one exists if and only if the change committed."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from engagement.extensions import db
from engagement.models import Comment, Event
from tests.factories import (
    flag_comment,
    list_comments,
    mint_reader,
    post_comment,
    reader_headers,
    run_worker,
    subscribe_webhook,
)


@pytest.fixture
def app(app_factory):
    """Webhooks may reach the receiver on 127.0.0.1."""
    return app_factory(WEBHOOK_ALLOW_PRIVATE=True)


def recorded(app) -> list[tuple[str, int | None]]:
    """(type, comment id) of every event, oldest first."""
    with app.app_context():
        rows = db.session.execute(sa.select(Event.type, Event.comment_id).order_by(Event.id)).all()
        db.session.remove()
    return [(kind.value, comment_id) for kind, comment_id in rows]


def moderate(client, headers, comment_id, expect=200, **changes):
    response = client.patch(f"/api/v1/mod/comments/{comment_id}", json=changes, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_every_change_records_its_event(app, client, mod, admin):
    top = post_comment(client)
    reply = post_comment(client, body="An answer.", parent_id=top["id"])
    response = client.put("/api/v1/mod/articles/held-thread", json={"moderation": "pre"}, headers=mod)
    assert response.status_code == 200
    held = post_comment(client, "held-thread", body="Waiting for a moderator.")
    assert held["status"] == "pending"
    moderate(client, mod, held["id"], status="approved")
    moderate(client, mod, reply["id"], status="rejected")
    edited = client.patch(
        f"/api/v1/comments/{top['id']}", json={"body": "Edited."}, headers={"X-Edit-Token": top["edit_token"]}
    )
    assert edited.status_code == 200
    flag_comment(client, top["id"], reason="abuse")
    withdrawn = client.delete(f"/api/v1/comments/{top['id']}", headers={"X-Edit-Token": top["edit_token"]})
    assert withdrawn.status_code == 204
    assert client.delete(f"/api/v1/mod/comments/{held['id']}", headers=admin).status_code == 204
    closed = client.put("/api/v1/mod/articles/an-article", json={"comments_closed": True}, headers=mod)
    assert closed.status_code == 200

    assert recorded(app) == [
        ("comment.published", top["id"]),
        ("reply.published", reply["id"]),
        ("comment.held", held["id"]),
        ("comment.approved", held["id"]),
        ("comment.rejected", reply["id"]),
        ("comment.edited", top["id"]),
        ("comment.flagged", top["id"]),
        ("comment.deleted", top["id"]),
        ("comment.deleted", held["id"]),
        ("article.closed", None),
    ]


def test_closing_a_closed_article_or_opening_one_records_nothing(app, client, mod):
    for closed in (True, True, False):
        response = client.put("/api/v1/mod/articles/a", json={"comments_closed": closed}, headers=mod)
        assert response.status_code == 200
    assert recorded(app) == [("article.closed", None)]


def test_enough_flags_record_the_hold_after_the_flags(app, client):
    comment = post_comment(client)
    for n in range(3):
        flag_comment(client, comment["id"], headers=reader_headers(mint_reader(client)), address=f"198.51.{n}.1")
    for n in range(3, 6):
        flag_comment(client, comment["id"], headers=reader_headers(mint_reader(client)), address=f"198.51.{n}.1")
    types = [kind for kind, _ in recorded(app)]
    assert types.count("comment.flagged") == 6
    assert types[-1] == "comment.held"
    assert list_comments(client)["comments"] == []


def test_a_decision_that_rolls_back_leaves_no_event(app, client, mod):
    top = post_comment(client, "pre-thread")
    reply = post_comment(client, "pre-thread", body="A reply.", parent_id=top["id"])
    moderate(client, mod, reply["id"], status="pending")
    before = recorded(app)
    # Approving succeeds first, then pinning a reply is refused: the whole decision rolls back.
    moderate(client, mod, reply["id"], expect=422, status="approved", pinned=True)
    assert recorded(app) == before
    assert moderate(client, mod, reply["id"], status="approved")["status"] == "approved"
    assert recorded(app)[-1] == ("comment.approved", reply["id"])


def test_a_post_whose_commit_fails_leaves_neither_comment_nor_event(app, client):
    with app.app_context():
        engine = db.engine

    def refuse(connection):
        raise RuntimeError("the database went away at commit")

    sa_event.listen(engine, "commit", refuse)
    try:
        response = client.post("/api/v1/articles/a/comments", json={"body": "Lost."})
    finally:
        sa_event.remove(engine, "commit", refuse)
    assert response.status_code == 500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0
    assert recorded(app) == []


def test_posting_a_comment_costs_one_insert_more(app, client):
    post_comment(client)  # the article exists from here on
    inserts: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement.split("(")[0].split()[-1])

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        post_comment(client, body="Another comment.")
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert sorted(inserts) == ["activity_buckets", "comments", "events"]  # the trending upsert, the comment, its event


def test_spam_is_announced_as_held_never_published(app, client):
    post_comment(client, body="Buy now", website="https://spam.example")
    with app.app_context():
        held = db.session.scalars(sa.select(Event)).one()
        assert (held.type.value, held.details["status"], held.details["reason"]) == ("comment.held", "spam", "honeypot")


def test_webhook_receives_the_event_without_private_fields(app, client, admin, receiver):
    subscribe_webhook(client, admin, receiver.url, ["comment.published"])
    top = post_comment(client, body="Hello **there**", author_name="Ana", author_email="ana@example.org",
                       author_url="https://ana.example")
    post_comment(client, body="A reply.", parent_id=top["id"])
    run_worker(app)
    messages = [json.loads(request.body) for request in receiver.received]
    assert [message["type"] for message in messages] == ["comment.published", "reply.published"]
    first = messages[0]["data"]
    assert first["article"] == {"key": "an-article", "title": None, "url": None}
    assert first["comment"]["author"] == {"name": "Ana", "url": "https://ana.example"}
    assert first["comment"]["body_html"] == "<p>Hello <strong>there</strong></p>"
    raw = b"".join(request.body for request in receiver.received)
    assert b"ana@example.org" not in raw and b"edit_token" not in raw and b"hash" not in raw
