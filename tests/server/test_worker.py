"""The delivery worker as a real process: killed mid-batch it loses nothing, SIGTERM lets it finish
the delivery in flight, and two workers on PostgreSQL deliver each event once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Delivery, DeliveryStatus, Event
from tests.conftest import TEST_SECRET_KEY
from tests.factories import create_api_token, mod_headers, post_comment, subscribe_webhook

pytestmark = pytest.mark.server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
LEASE_SECONDS = 5.0
EXIT_SECONDS = 15


@pytest.fixture
def app(app_factory):
    return app_factory(WEBHOOK_ALLOW_PRIVATE=True)


@pytest.fixture
def admin(app):
    return mod_headers(create_api_token(app, "admin"))


@pytest.fixture
def start_worker(database_url: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `flask --app wsgi engagement worker [--once]` on the test database."""
    processes: list[subprocess.Popen[bytes]] = []
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,  # the webhook secrets derive from it
        "ENGAGEMENT_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE": "true",
        "ENGAGEMENT_WEBHOOK_TIMEOUT_SECONDS": "1.2",
        "ENGAGEMENT_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "ENGAGEMENT_WORKER_POLL_SECONDS": "0.1",
    }

    def start(*arguments: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / f"worker-{len(processes)}.log", "wb") as log:
            process = subprocess.Popen(
                [FLASK, "--app", "wsgi", "engagement", "worker", *arguments],
                cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=EXIT_SECONDS)


def statuses(app) -> Counter[str]:
    with app.app_context():
        found = Counter(status.value for status in db.session.scalars(sa.select(Delivery.status)))
        db.session.remove()
    return found


def event_ids(app) -> set[str]:
    with app.app_context():
        found = {f"msg_{event_id}" for event_id in db.session.scalars(sa.select(Event.id))}
        db.session.remove()
    return found


def finished(process: subprocess.Popen[bytes]) -> int:
    try:
        process.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the worker did not exit") from None
    return process.returncode


def test_a_worker_killed_mid_batch_loses_nothing(app, client, admin, receiver, start_worker):
    receiver.delay = 0.3
    subscribe_webhook(client, admin, receiver.url, ["comment.published"])
    for n in range(6):
        post_comment(client, body=f"Comment {n}.")

    worker = start_worker()
    receiver.wait_for(3, arrived=True)  # the third is in flight
    worker.kill()
    assert finished(worker) == -signal.SIGKILL
    assert statuses(app)["delivered"] < 6

    time.sleep(LEASE_SECONDS)  # the dead worker's leases run out
    receiver.delay = 0
    assert finished(start_worker("--once")) == 0
    assert statuses(app) == {"delivered": 6}
    # At least once: every event arrived; a repeat carries the same webhook-id, for the receiver to drop.
    assert set(receiver.webhook_ids()) == event_ids(app)
    assert len(receiver.webhook_ids()) >= 6


def test_sigterm_finishes_the_delivery_in_flight_then_exits_cleanly(app, client, admin, receiver, start_worker):
    receiver.delay = 0.8  # within the timeout
    subscribe_webhook(client, admin, receiver.url, ["comment.published"])
    for n in range(3):
        post_comment(client, body=f"Comment {n}.")

    worker = start_worker()
    receiver.wait_for(1, arrived=True)
    worker.send_signal(signal.SIGTERM)
    assert finished(worker) == 0
    assert statuses(app) == {"delivered": 1, "pending": 2}
    with app.app_context():  # released, not leased: the next worker takes them at once
        assert db.session.scalars(sa.select(Delivery.locked_until)).all() == [None, None, None]
        db.session.remove()

    receiver.delay = 0
    assert finished(start_worker("--once")) == 0
    assert statuses(app) == {"delivered": 3}
    assert sorted(receiver.webhook_ids()) == sorted(event_ids(app))  # nothing twice


def test_two_workers_on_postgresql_deliver_each_event_once(app, client, admin, receiver, start_worker, is_postgres):
    if not is_postgres:
        pytest.skip("several workers side by side need PostgreSQL (SKIP LOCKED); on SQLite run one")
    subscribe_webhook(client, admin, receiver.url, ["comment.published"])
    receiver.delay = 0.02
    for n in range(60):
        post_comment(client, body=f"Comment {n}.")

    workers = [start_worker("--once") for _ in range(2)]
    assert [finished(worker) for worker in workers] == [0, 0]
    assert statuses(app) == {"delivered": 60}
    ids = receiver.webhook_ids()
    assert len(ids) == 60 and set(ids) == event_ids(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Delivery.status == DeliveryStatus.DELIVERED)) == 60
        db.session.remove()
