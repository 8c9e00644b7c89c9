"""Reply e-mails and moderator digests, through the HTTP API, the worker and a real SMTP server."""
from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy import event as sa_event

from engagement.clock import utcnow
from engagement.extensions import db
from engagement.models import ReplySubscription
from tests.factories import (
    DEFAULT_ARTICLE,
    assert_error,
    create_api_token,
    flag_comment,
    list_comments,
    mint_reader,
    mod_headers,
    post_comment,
    reader_headers,
    run_worker,
)
from tests.support.smtp_server import free_port

PUBLIC_URL = "https://comments.news.example"
ARTICLE_URL = "https://news.example/belarus"
ANA = "ana@example.org"


def mail_config(smtp_url: str, **extra):
    return {
        "SMTP_URL": smtp_url, "MAIL_FROM": "Comments <comments@news.example>", "PUBLIC_URL": PUBLIC_URL, **extra,
    }


@pytest.fixture
def app(app_factory, smtp_server):
    return app_factory(**mail_config(smtp_server.url, DELIVERY_MAX_ATTEMPTS=2))


@pytest.fixture
def ana(client):
    return reader_headers(mint_reader(client))


@pytest.fixture
def bob(client):
    return reader_headers(mint_reader(client))


@pytest.fixture
def article(client, mod):
    response = client.put(
        f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json={"title": "Belarus <prisoners>", "url": ARTICLE_URL},
        headers=mod,
    )
    assert response.status_code in (200, 201), response.get_json()
    return DEFAULT_ARTICLE


def link(message: EmailMessage, path: str) -> str:
    """The link to ``path`` in the plain-text part, as a path and query for the test client."""
    text = message.get_body(("plain",)).get_content()
    [url] = set(re.findall(re.escape(PUBLIC_URL + path) + r"\?token=[\w.\-]+", text))
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def subscribe(client, headers, body="My comment.", email=ANA, **fields):
    return post_comment(client, body=body, headers=headers, author_email=email, notify=True, **fields)


def confirm(app, client, smtp_server) -> None:
    run_worker(app)
    [message] = smtp_server.take()
    assert message["Subject"] == "Confirm reply e-mails" and message["To"] == ANA
    response = client.post(link(message, "/mail/confirm"))
    assert response.status_code == 200 and b"Reply e-mails confirmed" in response.data


def reply(client, headers, parent, body="A reply.", **fields):
    return post_comment(client, body=body, headers=headers, parent_id=parent["id"], **fields)


# --- opting in ----------------------------------------------------------------------------------

def test_nothing_is_sent_before_the_address_is_confirmed(app, client, smtp_server, ana, bob, article):
    mine = subscribe(client, ana)
    reply(client, bob, mine, "Too early.")
    run_worker(app)
    [confirmation] = smtp_server.take()  # the confirmation only, not the reply
    assert "Too early" not in confirmation.get_body(("plain",)).get_content()
    assert "Belarus &lt;prisoners&gt;" in confirmation.get_body(("html",)).get_content()

    page = client.get(link(confirmation, "/mail/confirm"))
    assert page.status_code == 200 and b'<form method="post"' in page.data
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    run_worker(app)
    assert smtp_server.take() == []  # opening the link confirmed nothing: the button does

    assert client.post(link(confirmation, "/mail/confirm")).status_code == 200
    reply(client, bob, mine, "Now it counts.")
    run_worker(app)
    [message] = smtp_server.take()
    assert "Now it counts." in message.get_body(("plain",)).get_content()
    assert "Too early" not in message.get_body(("plain",)).get_content()


def test_a_confirmation_link_expires_and_forged_links_are_refused(app, client, smtp_server, ana, article):
    subscribe(client, ana)
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        run_worker(app)
        [confirmation] = smtp_server.take()
        clock.shift(timedelta(days=2, minutes=1))
        expired = client.post(link(confirmation, "/mail/confirm"))
    assert expired.status_code == 400 and b"not valid" in expired.data
    assert client.get("/mail/confirm?token=forged").status_code == 400
    assert client.post("/mail/unsubscribe?token=" + "x" * 5000).status_code == 400


def test_notify_needs_an_address_and_mail_settings(app_factory, client, ana):
    error = assert_error(
        client.post(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Hi", "notify": True}, headers=ana),
        422, "validation_error",
    )
    assert "notify" in error["fields"]
    page = list_comments(client)
    assert page["article"]["reply_notifications"] is True
    assert "email" not in str(page)  # public pages never name e-mail, even in a field name

    without_mail = app_factory().test_client()
    assert list_comments(without_mail)["article"]["reply_notifications"] is False
    response = without_mail.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", json={"body": "Hi", "author_email": ANA, "notify": True}
    )
    assert "notify" in assert_error(response, 422, "validation_error")["fields"]


def test_a_confirmed_address_needs_no_second_confirmation_until_it_unsubscribes(
    app, client, smtp_server, ana, bob, article
):
    first = subscribe(client, ana, "First.")
    confirm(app, client, smtp_server)
    later = subscribe(client, ana, "Later.")
    reply(client, bob, later, "To the later one.")
    run_worker(app)
    [message] = smtp_server.take()  # a reply mail at once, no confirmation
    assert "To the later one." in message.get_body(("plain",)).get_content()

    assert client.post(link(message, "/mail/unsubscribe")).status_code == 200
    again = subscribe(client, ana, "After unsubscribing.")
    reply(client, bob, again, "Unheard.")
    reply(client, bob, first, "Unheard too.")
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        run_worker(app)
    [confirmation] = smtp_server.take()
    assert confirmation["Subject"] == "Confirm reply e-mails"


def test_purging_a_comment_deletes_its_subscription(app, client, smtp_server, ana, bob, admin, article):
    mine = subscribe(client, ana)
    confirm(app, client, smtp_server)
    with time_machine.travel(utcnow(), tick=False) as clock:
        reply(client, bob, mine, "Sent at once.")
        run_worker(app)
        assert len(smtp_server.take()) == 1
        reply(client, bob, mine, "Gathered, then the purge.")
        run_worker(app)
        assert client.delete(f"/api/v1/mod/comments/{mine['id']}", headers=admin).status_code == 204
        clock.shift(timedelta(minutes=16))
        run_worker(app)
    assert smtp_server.take() == []


def test_a_reader_who_erases_their_data_is_no_longer_subscribed(app, client, smtp_server, ana, article):
    subscribe(client, ana)
    confirm(app, client, smtp_server)
    erased = client.delete("/api/v1/me", headers=ana)
    assert erased.status_code == 202 and erased.get_json()["comments"] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReplySubscription)) == 0
        db.session.remove()
    run_worker(app)
    assert smtp_server.take() == []


def test_asking_for_reply_mails_costs_two_statements_more(app, client, ana):
    post_comment(client, headers=ana)  # the article exists from here on
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    def cost(**fields) -> list[str]:
        statements.clear()
        sa_event.listen(engine, "before_cursor_execute", record)
        try:
            post_comment(client, headers=ana, author_email=ANA, **fields)
        finally:
            sa_event.remove(engine, "before_cursor_execute", record)
        return list(statements)

    plain, notified = cost(body="Plain."), cost(body="Notify me.", notify=True)
    assert len(notified) == len(plain) + 2
    assert notified.count("INSERT") == plain.count("INSERT") + 1  # the subscription


# --- reply mails -----------------------------------------------------------------------------------

def test_a_reply_mail_has_both_parts_the_reply_the_article_and_one_click_unsubscribe(
    app, client, smtp_server, ana, bob, article
):
    mine = subscribe(client, ana)
    confirm(app, client, smtp_server)
    posted = reply(client, bob, mine, "I *disagree* <script>alert(1)</script>", author_name="Bob <b>")
    run_worker(app)
    [raw] = smtp_server.raw
    [message] = smtp_server.take()
    assert message["To"] == ANA and message["From"] == "Comments <comments@news.example>"
    assert message["Subject"] == 'A new reply to your comment on "Belarus <prisoners>"'
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "I disagree <script>alert(1)</script>" in text and "Bob <b>" in text
    assert "<em>disagree</em>" in html and "<script>" not in html and "Bob &lt;b&gt;" in html
    assert f"{ARTICLE_URL}#comment-{posted['id']}" in text and ARTICLE_URL in html

    unsubscribe_url = link(message, "/mail/unsubscribe")
    assert message["List-Unsubscribe"] == f"<{PUBLIC_URL}{unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Unfolded and not encoded, as RFC 2369 and mail clients expect it.
    assert f"\r\nList-Unsubscribe: <{PUBLIC_URL}{unsubscribe_url}>\r\n".encode() in raw
    # What a mail client does for RFC 8058: a form POST, no page, no JavaScript.
    one_click = client.post(unsubscribe_url, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and b"Unsubscribed" in one_click.data
    assert client.post(unsubscribe_url, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        reply(client, bob, mine, "Nobody hears this.")
        run_worker(app)
    assert smtp_server.take() == []


def test_the_unsubscribe_page_works_without_javascript(app, client, smtp_server, ana, bob, article):
    mine = subscribe(client, ana)
    confirm(app, client, smtp_server)
    reply(client, bob, mine)
    run_worker(app)
    [message] = smtp_server.take()
    page = client.get(link(message, "/mail/unsubscribe"))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    action = re.search(r'<form method="post" action="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post(action.replace("&amp;", "&"), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    reply(client, bob, mine, "Unheard.")
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        run_worker(app)
    assert smtp_server.take() == []


def test_later_replies_are_gathered_into_one_mail_per_thread_per_15_minutes(
    app, client, smtp_server, ana, bob, article
):
    first = subscribe(client, ana, "First.")
    second = subscribe(client, ana, "Second.")
    confirm(app, client, smtp_server)
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        reply(client, bob, first, "Reply one.")
        run_worker(app)
        assert len(smtp_server.take()) == 1  # a quiet thread: at once

        clock.shift(timedelta(minutes=2))
        reply(client, bob, first, "Reply two.")
        clock.shift(timedelta(minutes=3))
        reply(client, bob, second, "Reply three.")
        run_worker(app)
        assert smtp_server.take() == []  # held until the window ends

        clock.shift(timedelta(minutes=10, seconds=1))
        run_worker(app)
        [gathered] = smtp_server.take()
    text = gathered.get_body(("plain",)).get_content()
    assert "Reply two." in text and "Reply three." in text and "Reply one." not in text
    assert gathered["Subject"].startswith("2 new replies")


def test_a_fan_out_joins_streams_in_key_order_and_gathers_a_reply_approved_again_once(
    app, client, smtp_server, bob, article, mod
):
    """Two workers fanning out at once (each its own events) lock streams in one order, so
    they never wait on each other in a cycle (a deadlock on PostgreSQL): whatever order
    the replies came in, the batch inserts and locks its streams in key order."""
    parents = [
        subscribe(client, reader_headers(mint_reader(client)), f"Parent {n}.", email=f"reader{n}@example.org")
        for n in range(4)
    ]
    run_worker(app)
    for message in smtp_server.take():
        assert client.post(link(message, "/mail/confirm")).status_code == 200
    with app.app_context():
        email_hashes = dict(db.session.execute(sa.select(ReplySubscription.comment_id, ReplySubscription.email_hash)).all())
        db.session.remove()
    # Replies come in the reverse of their streams' order.
    parents.sort(key=lambda parent: email_hashes[parent["id"]], reverse=True)
    replies = [reply(client, bob, parent, f"Reply to {parent['id']}.") for parent in parents]
    for status in ("pending", "approved"):  # published a second time, in the same batch
        changed = client.patch(f"/api/v1/mod/comments/{replies[0]['id']}", json={"status": status}, headers=mod)
        assert changed.status_code == 200, changed.get_json()

    streams: list[str] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if statement.startswith("INSERT INTO mail_batches"):
            streams.extend(value for value in _values(parameters) if str(value).startswith("reply:"))

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        run_worker(app)
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    assert len(streams) == len(parents) and streams == sorted(streams)
    sent = smtp_server.take()
    assert len(sent) == len(parents)
    texts = [message.get_body(("plain",)).get_content() for message in sent]
    assert sum(text.count(f"#comment-{replies[0]['id']}") for text in texts) == 1


def _values(parameters) -> list:
    """A statement's bound values, whichever form the driver takes them in."""
    return list(parameters.values()) if isinstance(parameters, dict) else list(parameters)


def test_no_mail_for_held_spam_or_own_replies(app_factory, smtp_server):
    app = app_factory(**mail_config(smtp_server.url), SPAM_MAX_LINKS=1)
    client = app.test_client()
    ana, bob = reader_headers(mint_reader(client)), reader_headers(mint_reader(client))
    mine = subscribe(client, ana)
    confirm(app, client, smtp_server)

    reply(client, ana, mine, "My own follow-up.")
    reply(client, bob, mine, "Same address, other browser.", author_email=ANA.upper())
    reply(client, bob, mine, "Bot.", website="http://spam.example")
    held = reply(client, bob, mine, "Links http://a.example http://b.example")
    assert held["status"] == "pending"
    run_worker(app)
    assert smtp_server.take() == []

    moderator = mod_headers(create_api_token(app, "moderator"))
    approved = client.patch(f"/api/v1/mod/comments/{held['id']}", json={"status": "approved"}, headers=moderator)
    assert approved.status_code == 200, approved.get_json()
    run_worker(app)
    [message] = smtp_server.take()  # published by the moderator: now it is mailed
    assert "a.example" in message.get_body(("plain",)).get_content()


def test_a_mail_server_that_is_down_gets_retries_then_a_dead_letter(app_factory):
    app = app_factory(**mail_config(f"smtp://127.0.0.1:{free_port()}", DELIVERY_MAX_ATTEMPTS=2))
    client = app.test_client()
    admin = mod_headers(create_api_token(app, "admin"))
    subscribe(client, reader_headers(mint_reader(client)))
    with time_machine.travel(utcnow(), tick=False) as clock:
        run_worker(app)
        [pending] = client.get("/api/v1/mod/deliveries?status=pending", headers=admin).get_json()["deliveries"]
        assert pending["attempts"] == 1 and "could not be reached" in pending["last_error"]
        clock.shift(timedelta(seconds=31))
        run_worker(app)
    [failed] = client.get("/api/v1/mod/deliveries?status=failed", headers=admin).get_json()["deliveries"]
    assert failed["attempts"] == 2 and failed["kind"] == "email"
    assert ANA not in str(failed)


# --- moderator digests -----------------------------------------------------------------------------

def test_moderators_get_at_most_one_digest_per_window(app_factory, smtp_server):
    app = app_factory(**mail_config(smtp_server.url, MODERATOR_EMAILS=["desk@news.example", "night@news.example"],
                                    MODERATOR_DIGEST_MINUTES=10, SPAM_MAX_LINKS=0))
    client = app.test_client()
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        post_comment(client, body="Held http://a.example")
        run_worker(app)
        [first] = smtp_server.take()
        assert first["To"] == "desk@news.example, night@news.example"
        assert first["Subject"] == "Moderation: 1 comments held"
        assert f"{PUBLIC_URL}/mod" in first.get_body(("plain",)).get_content()

        clock.shift(timedelta(minutes=1))
        published = post_comment(client, body="Fine.")
        flag_comment(client, published["id"])
        post_comment(client, body="Held again http://b.example")
        run_worker(app)
        assert smtp_server.take() == []  # inside the window

        clock.shift(timedelta(minutes=9, seconds=1))
        run_worker(app)
        [second] = smtp_server.take()
    assert second["Subject"] == "Moderation: 1 comments held, 1 new flags"
