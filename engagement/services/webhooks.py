"""Webhook subscriptions and their delivery: signed POSTs following Standard Webhooks.

An admin subscribes a URL to event types. The signing secret is shown once, at creation;
it is derived from SECRET_KEY and a random salt (``Keyring.webhook_secret``), so the
database never holds it. A URL whose host resolves to a loopback, private, link-local
or otherwise non-public address is refused when it is saved and again before every
delivery (DNS can change in between), and the request then goes to the very address
that was checked, so a second lookup cannot swap it. ``allow_private`` lifts that rule
(ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE, for an intranet receiver or tests).
"""
from __future__ import annotations

import ipaddress
import json
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session
from standardwebhooks import Webhook as Signer

from engagement.clock import iso_timestamp
from engagement.errors import NotFound, ValidationFailed
from engagement.models import Article, Comment, Delivery, DeliveryKind, DeliveryStatus, Event, EventType, Webhook
from engagement.models.base import MAX_ID
from engagement.privacy import Keyring
from engagement.services import audit
from engagement.services.deliveries import DeliveryFailed

# A subscription to comment.published also receives reply.published: a reply is a comment too.
IMPLIED_TYPES = {EventType.REPLY_PUBLISHED.value: EventType.COMMENT_PUBLISHED.value}
MAX_WEBHOOKS = 100
USER_AGENT = "engagement-webhooks/1"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeDestination(Exception):
    """The URL's host does not resolve, or resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class CreatedWebhook:
    """A new subscription and its signing secret (shown this once)."""

    webhook: Webhook
    secret: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.webhook, name)


def is_public_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve_destination(url: str, *, allow_private: bool) -> list[IpAddress]:
    """The addresses ``url``'s host resolves to, every one of them public unless ``allow_private``.

    Raises UnsafeDestination when the host does not resolve or any address is not public.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeDestination(f"The host {host!r} does not resolve.") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise UnsafeDestination(
            "The URL resolves to a loopback, private, link-local or reserved address, which webhooks may not reach."
        )
    return addresses


@dataclass(frozen=True)
class CheckedUrl:
    """A webhook URL whose host resolved to addresses webhooks may reach, when it was checked."""

    url: str


def check_destination(url: str, *, allow_private: bool) -> CheckedUrl:
    """Resolve ``url``'s host and vouch for it. A DNS lookup: call it before the transaction
    opens (on SQLite, before the write lock is taken). Raises ValidationFailed on ``url``."""
    try:
        resolve_destination(url, allow_private=allow_private)
    except UnsafeDestination as exc:
        raise ValidationFailed({"url": [str(exc)]}) from exc
    return CheckedUrl(url)


# --- subscriptions -------------------------------------------------------------------------

def list_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(sa.select(Webhook).order_by(Webhook.id)).all())


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    """Raises NotFound."""
    webhook = session.get(Webhook, webhook_id) if 0 < webhook_id <= MAX_ID else None
    if webhook is None:
        raise NotFound("Webhook not found.")
    return webhook


def _audit_fields(webhook: Webhook) -> dict[str, Any]:
    return {"url": webhook.url, "event_types": webhook.event_types, "active": webhook.active}


def create_webhook(
    session: Session,
    keyring: Keyring,
    *,
    destination: CheckedUrl,
    event_types: Sequence[EventType],
    active: bool,
    description: str | None,
    actor: str,
    now: datetime,
) -> CreatedWebhook:
    """Subscribe ``destination`` to ``event_types``; the result carries the signing secret, shown once.

    Raises ValidationFailed past MAX_WEBHOOKS.
    """
    if (session.scalar(sa.select(sa.func.count()).select_from(Webhook)) or 0) >= MAX_WEBHOOKS:
        raise ValidationFailed({"url": [f"At most {MAX_WEBHOOKS} webhooks; delete one first."]})
    webhook = Webhook(
        url=destination.url, event_types=sorted({kind.value for kind in event_types}), active=active, description=description,
        secret_salt=secrets.token_hex(32), created_at=now, updated_at=now,
    )
    session.add(webhook)
    session.flush()
    audit.record(
        session, actor=actor, action="webhook.create", target=f"webhook:{webhook.id}",
        details=_audit_fields(webhook), now=now,
    )
    return CreatedWebhook(webhook, keyring.webhook_secret(webhook.secret_salt))


def update_webhook(
    session: Session,
    *,
    webhook_id: int,
    changes: Mapping[str, Any],
    actor: str,
    now: datetime,
) -> Webhook:
    """Change any of url (a CheckedUrl), event_types, active and description. Raises NotFound."""
    webhook = get_webhook(session, webhook_id)
    before = _audit_fields(webhook)
    for name, value in changes.items():
        if name == "event_types":
            value = sorted({kind.value for kind in value})
        elif name == "url":
            value = value.url
        setattr(webhook, name, value)
    webhook.updated_at = now
    session.flush()
    audit.record(
        session, actor=actor, action="webhook.update", target=f"webhook:{webhook.id}",
        details={"before": before, "after": _audit_fields(webhook)}, now=now,
    )
    return webhook


def delete_webhook(session: Session, *, webhook_id: int, actor: str, now: datetime) -> None:
    """Remove a subscription and its deliveries. Raises NotFound."""
    webhook = get_webhook(session, webhook_id)
    details = _audit_fields(webhook)
    session.execute(sa.delete(Delivery).where(Delivery.webhook_id == webhook.id))
    session.delete(webhook)
    audit.record(session, actor=actor, action="webhook.delete", target=f"webhook:{webhook_id}", details=details, now=now)
    session.flush()


def subscribed(webhook: Webhook, event_type: EventType) -> bool:
    wanted = set(webhook.event_types)
    return event_type.value in wanted or IMPLIED_TYPES.get(event_type.value) in wanted


# --- what a delivery carries ------------------------------------------------------------------

def event_message(session: Session, event: Event) -> dict[str, Any]:
    """The event as receivers get it: ``{"type", "timestamp", "data"}`` (Standard Webhooks' shape).

    The comment is read as it is now, so a comment purged since the event goes out
    empty. Public fields only: never an e-mail, an address hash or a token.
    """
    key, title, url = session.execute(
        sa.select(Article.key, Article.title, Article.url).where(Article.id == event.article_id)
    ).one()
    data: dict[str, Any] = {"article": {"key": key, "title": title, "url": url}, **event.details}
    if event.comment_id is not None:
        comment = session.get_one(Comment, event.comment_id)
        data["comment"] = {
            "id": comment.id,
            "parent_id": comment.parent_id,
            "status": comment.status.value,
            "author": {"name": comment.author_name, "url": comment.author_url},
            "body_html": "" if comment.purged_at is not None else comment.body_html,
            "created_at": iso_timestamp(comment.created_at),
            "edited_at": iso_timestamp(comment.edited_at),
        }
    return {"type": event.type.value, "timestamp": iso_timestamp(event.created_at), "data": data}


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
