"""Delivering webhook events: signed POSTs (Standard Webhooks) over httpx.

Only the worker loads this module (``flask engagement worker``): the web workers never
send a webhook, and httpx with its dependencies would add megabytes to each of them.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session
from standardwebhooks import Webhook as Signer

from engagement.models import Delivery, DeliveryKind, DeliveryStatus, Event, Webhook
from engagement.privacy import Keyring
from engagement.services.deliveries import DeliveryFailed
from engagement.services.webhooks import (
    USER_AGENT,
    IpAddress,
    UnsafeDestination,
    event_message,
    resolve_destination,
    subscribed,
)


def message_id(event: Event) -> str:
    """The ``webhook-id``: the same for every attempt of an event, so receivers can drop repeats."""
    return f"msg_{event.id}"


def signed_headers(secret: str, event: Event, body: bytes, now: datetime) -> dict[str, str]:
    msg_id = message_id(event)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


# --- the delivery channel ---------------------------------------------------------------------

class WebhookChannel:
    """Fans events out to the subscribed webhooks and POSTs them, signed."""

    kind = DeliveryKind.WEBHOOK

    def __init__(self, keyring: Keyring, *, timeout: float, allow_private: bool):
        self._keyring = keyring
        self._allow_private = allow_private
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def fan_out(self, session: Session, events: Sequence[Event], now: datetime) -> list[Delivery]:
        if not events:
            return []
        hooks = session.scalars(sa.select(Webhook).where(Webhook.active.is_(True))).all()
        return [
            Delivery(
                event_id=event.id, kind=self.kind, webhook_id=hook.id, status=DeliveryStatus.PENDING,
                attempts=0, next_attempt_at=now, created_at=now,
            )
            for event in events
            for hook in hooks
            if subscribed(hook, event.type)
        ]

    def deliver(self, session: Session, delivery: Delivery, event: Event, now: datetime) -> int:
        """POST the event; returns the receiver's 2xx status. Raises DeliveryFailed."""
        hook = session.get(Webhook, delivery.webhook_id) if delivery.webhook_id is not None else None
        if hook is None or not hook.active:
            raise DeliveryFailed("The webhook was deactivated.", retry=False)
        try:
            addresses = resolve_destination(hook.url, allow_private=self._allow_private)
        except UnsafeDestination as exc:
            raise DeliveryFailed(str(exc)) from exc
        body = json.dumps(event_message(session, event), separators=(",", ":"), ensure_ascii=False).encode()
        headers = signed_headers(self._keyring.webhook_secret(hook.secret_salt), event, body, now)
        try:
            status = self._post_to(hook.url, addresses[0], headers, body)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}", status_code=status)
        return status

    def _post_to(self, url: str, address: IpAddress, headers: dict[str, str], body: bytes) -> int:
        """POST to the address that was checked, naming the host for HTTP and TLS (SNI and
        certificate); returns the status. The response body is never read: a receiver
        cannot hold the worker (or its memory) with one."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = {**headers, "host": parts.netloc}
        with self._client.stream(
            "POST", pinned, content=body, headers=headers, extensions={"sni_hostname": host}
        ) as response:
            return response.status_code

    def close(self) -> None:
        self._client.close()
