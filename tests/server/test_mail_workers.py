"""Two delivery workers side by side on PostgreSQL, working while replies arrive, put each
reply into exactly one mail and send each address at most one mail per window."""
from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engagement.cli import delivery_channels
from engagement.clock import utcnow
from engagement.extensions import db
from engagement.models import Comment, Delivery, DeliveryStatus, ReplyMailItem
from engagement.services.deliveries import DeliveryWorker, RetryPolicy
from tests.api.test_reply_mail import ARTICLE_URL, link, mail_config
from tests.factories import (
    DEFAULT_ARTICLE,
    create_api_token,
    mint_reader,
    mod_headers,
    post_comment,
    reader_headers,
    run_worker,
)

pytestmark = pytest.mark.server

READERS = 8
ROUNDS = 3


@pytest.fixture
def app(app_factory, smtp_server):
    return app_factory(**mail_config(smtp_server.url))


def _work_until(app, stop: threading.Event) -> None:
    """Passes back to back until told to stop, then a last drain: a worker racing the replies."""
    with app.app_context():
        worker = DeliveryWorker(
            db.session, delivery_channels(app), RetryPolicy(), clock=utcnow, lease=timedelta(seconds=60),
            poll_seconds=0.01,
        )
        while not stop.is_set():
            worker.run_pass()
        worker.run(once=True)
        db.session.remove()


def test_two_workers_on_postgresql_mail_each_reply_once(app, client, smtp_server, is_postgres):
    if not is_postgres:
        pytest.skip("several workers side by side need PostgreSQL (SKIP LOCKED); on SQLite run one")
    moderator = mod_headers(create_api_token(app, "moderator"))
    response = client.put(f"/api/v1/mod/articles/{DEFAULT_ARTICLE}", json={"url": ARTICLE_URL}, headers=moderator)
    assert response.status_code == 200
    parents = [
        post_comment(client, body=f"Parent {n}.", headers=reader_headers(mint_reader(client)),
                     author_email=f"reader{n}@example.org", notify=True)
        for n in range(READERS)
    ]
    run_worker(app)
    for confirmation in smtp_server.take():
        assert client.post(link(confirmation, "/mail/confirm")).status_code == 200
    replier = reader_headers(mint_reader(client))
    stop = threading.Event()
    workers = [threading.Thread(target=_work_until, args=(app, stop)) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        replies = {
            post_comment(client, body=f"Reply {n} to {parent['id']}.", headers=replier, parent_id=parent["id"])["id"]
            for n in range(ROUNDS) for parent in parents
        }
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)

    sent = smtp_server.take()
    assert sorted(Counter(message["To"] for message in sent).values()) == [1] * READERS  # one mail per address
    mailed = Counter(
        reply for message in sent
        for reply in map(int, re.findall(r"#comment-(\d+)", message.get_body(("plain",)).get_content()))
    )
    assert all(count == 1 for count in mailed.values())
    with app.app_context():
        waiting = set(db.session.scalars(
            sa.select(ReplyMailItem.reply_id).join(Delivery, Delivery.id == ReplyMailItem.delivery_id)
            .where(Delivery.status == DeliveryStatus.PENDING)
        ))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == READERS * (ROUNDS + 1)
        db.session.remove()
    assert not waiting & set(mailed) and waiting | set(mailed) == replies
