"""The delivery worker: events become deliveries, deliveries are sent, with retries.

One pass (``DeliveryWorker.run_pass``) does three things, each in its own short
transaction, so no transaction is open while a receiver is being waited for:

1. Fan out: events not yet dispatched are locked (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), each channel adds one delivery per destination, and the events are
   marked dispatched, all in one commit: an event is fanned out exactly once.
2. Claim: due pending deliveries get a lease (``locked_until``) in one UPDATE whose
   subquery skips rows another worker has locked, so two workers never claim the same
   delivery; a claimed one is not due again until its lease passes.
3. Deliver: each claimed delivery is sent and its outcome committed. A failure waits
   ``backoff * 2^(attempt-1)`` seconds (capped, with jitter) before the next attempt;
   after ``max_attempts`` the delivery is failed: the dead letter admins list and retry.

A worker killed mid-delivery leaves its claimed deliveries pending; another (or the same,
restarted) claims them again once the lease passes. Delivery is therefore at least once,
and receivers drop repeats by the ``webhook-id`` header (one per event).
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import Conflict, NotFound
from engagement.models import Delivery, DeliveryKind, DeliveryStatus, Event
from engagement.models.base import MAX_ID
from engagement.privacy import Keyring
from engagement.services import audit

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 100
CLAIM_BATCH = 20
# Events whose every delivery succeeded are kept this long (for the admins' list), then pruned.
EVENT_RETENTION = timedelta(days=30)


class DeliveryFailed(Exception):
    """An attempt that did not deliver; ``retry`` False means no later attempt can succeed."""

    def __init__(self, message: str, *, status_code: int | None = None, retry: bool = True):
        super().__init__(message)
        self.status_code = status_code
        self.retry = retry


class Channel(Protocol):
    """One way of carrying events out (webhooks, e-mail, ...)."""

    kind: DeliveryKind

    def fan_out(self, session: Session, events: Sequence[Event], now: datetime) -> list[Delivery]:
        """The new deliveries of ``events`` through this channel (not yet added to the session)."""

    def deliver(self, session: Session, delivery: Delivery, event: Event, now: datetime) -> int | None:
        """Send one delivery; returns a status code to keep, if any. Raises DeliveryFailed."""

    def close(self) -> None:
        """Release what the channel holds (connections); called when the worker stops."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=6)

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
        """The wait after the ``attempts``-th failure: exponential, capped, and jittered
        between half and all of it, so receivers coming back are not hit all at once."""
        ceiling = min(self.backoff * 2 ** min(attempts - 1, 32), self.max_backoff)
        return ceiling * (0.5 + rng() / 2)


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None


# --- the worker's steps ------------------------------------------------------------------------

def fan_out(session: Session, channels: Sequence[Channel], now: datetime, limit: int = FAN_OUT_BATCH) -> int:
    """Turn up to ``limit`` undispatched events into deliveries; returns how many events. The caller commits."""
    events = session.scalars(
        sa.select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for channel in channels:
        session.add_all(channel.fan_out(session, events, now))
    for event in events:
        event.dispatched_at = now
    session.flush()
    return len(events)


def claim(session: Session, now: datetime, lease: timedelta, limit: int = CLAIM_BATCH) -> list[int]:
    """Lease up to ``limit`` due pending deliveries to this worker; returns their ids. The caller commits."""
    due = (
        sa.select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
            sa.or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        sa.update(Delivery).where(Delivery.id.in_(due.scalar_subquery())).values(locked_until=now + lease)
        .returning(Delivery.id).execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed)


def release(session: Session, ids: Sequence[int]) -> None:
    """Give claimed deliveries back unattempted (a worker stopping). The caller commits."""
    if ids:
        session.execute(
            sa.update(Delivery).where(Delivery.id.in_(ids)).values(locked_until=None)
            .execution_options(synchronize_session=False)
        )


def attempt(
    session: Session, channels: dict[DeliveryKind, Channel], policy: RetryPolicy, delivery_id: int, now: datetime
) -> bool:
    """Send one claimed delivery and record the outcome; returns whether it was delivered. The caller commits."""
    delivery = session.get_one(Delivery, delivery_id)
    event = session.get_one(Event, delivery.event_id)
    delivery.attempts += 1
    delivery.locked_until = None
    channel = channels.get(delivery.kind)
    try:
        if channel is None:
            raise DeliveryFailed(f"No {delivery.kind.value} channel is configured on this worker.")
        delivery.last_status_code = channel.deliver(session, delivery, event, now)
    except DeliveryFailed as failure:
        delivery.last_error = str(failure)[:500]
        delivery.last_status_code = failure.status_code
        if failure.retry and delivery.attempts < policy.max_attempts:
            delivery.next_attempt_at = now + policy.delay(delivery.attempts)
        else:
            delivery.status = DeliveryStatus.FAILED
        logger.info("delivery %s (%s) failed: %s", delivery.id, delivery.kind.value, delivery.last_error)
        return False
    delivery.status = DeliveryStatus.DELIVERED
    delivery.delivered_at = now
    delivery.last_error = None
    return True


class DeliveryWorker:
    """Runs passes until stopped; ``stop`` (from a signal handler) lets the current delivery finish."""

    def __init__(
        self,
        session: Session,
        channels: Sequence[Channel],
        policy: RetryPolicy,
        *,
        clock: Callable[[], datetime],
        lease: timedelta,
        poll_seconds: float,
    ):
        self._session = session
        self._channels = list(channels)
        self._by_kind = {channel.kind: channel for channel in channels}
        self._policy = policy
        self._clock = clock
        self._lease = lease
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, once: bool = False) -> None:
        """Work until stopped; with ``once``, until nothing is due (a drain, for cron and tests).

        A long-running worker outlives a database that goes away: it logs, waits a poll
        interval and tries again. With ``once`` the error is raised (cron sees it fail).
        """
        while not self.stopping:
            try:
                handled = self.run_pass()
            except sa.exc.DBAPIError:
                self._session.rollback()
                if once:
                    raise
                logger.warning("delivery pass failed; trying again", exc_info=True)
                handled = 0
            if not handled and (once or self._stopping.wait(self._poll_seconds)):
                return

    def run_pass(self) -> int:
        """Fan out, claim and deliver once; returns how many events and deliveries it handled."""
        session = self._session
        dispatched = fan_out(session, self._channels, self._clock())
        session.commit()
        claimed = claim(session, self._clock(), self._lease)
        session.commit()
        for position, delivery_id in enumerate(claimed):
            if self.stopping:
                release(session, claimed[position:])
                session.commit()
                break
            try:
                attempt(session, self._by_kind, self._policy, delivery_id, self._clock())
                session.commit()
            except Exception:
                session.rollback()  # its lease runs out and another pass tries again
                logger.exception("delivery %s could not be attempted", delivery_id)
        return dispatched + len(claimed)


def prune_batch(session: Session, now: datetime, *, limit: int) -> int:
    """Delete up to ``limit`` events older than EVENT_RETENTION whose deliveries all succeeded
    (or that had none), with their deliveries; returns how many events. Pending and failed
    deliveries are kept, with their events. The caller commits."""
    unfinished = sa.select(Delivery.id).where(Delivery.event_id == Event.id, Delivery.status != DeliveryStatus.DELIVERED)
    ids = session.scalars(
        sa.select(Event.id)
        .where(Event.dispatched_at.is_not(None), Event.created_at < now - EVENT_RETENTION, ~unfinished.exists())
        .order_by(Event.id).limit(limit)
    ).all()
    if ids:
        session.execute(sa.delete(Delivery).where(Delivery.event_id.in_(ids)).execution_options(synchronize_session=False))
        session.execute(sa.delete(Event).where(Event.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)


# --- the admins' view ------------------------------------------------------------------------

def list_deliveries(
    session: Session, keyring: Keyring, *, status: DeliveryStatus | None, limit: int, cursor: str | None
) -> DeliveryPage:
    """One page of deliveries, newest first (keyset over id), optionally of one status.

    Raises ValidationFailed for a bad cursor.
    """
    query = sa.select(Delivery).order_by(Delivery.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(Delivery.status == status)
    if cursor is not None:
        query = query.where(Delivery.id < audit.read_id_cursor(keyring, cursor, "deliveries"))
    rows = list(session.scalars(query).all())
    page, more = rows[:limit], len(rows) > limit
    return DeliveryPage(page, keyring.sign_cursor({"deliveries": page[-1].id}) if more else None)


def retry_delivery(session: Session, *, delivery_id: int, actor: str, now: datetime) -> Delivery:
    """Give a failed delivery a fresh round of attempts, starting now.

    Raises NotFound; Conflict when the delivery is not failed.
    """
    delivery = session.get(Delivery, delivery_id) if 0 < delivery_id <= MAX_ID else None
    if delivery is None:
        raise NotFound("Delivery not found.")
    if delivery.status is not DeliveryStatus.FAILED:
        raise Conflict(f"Only failed deliveries can be retried; this one is {delivery.status.value}.")
    audit.record(
        session, actor=actor, action="delivery.retry", target=f"delivery:{delivery.id}",
        details={"attempts": delivery.attempts, "last_error": delivery.last_error}, now=now,
    )
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.locked_until = None
    session.flush()
    return delivery
