"""Webhook subscriptions, the destinations they may name and the message they receive.

The signed POSTs themselves (Standard Webhooks) are sent by ``webhook_channel``, which
only the worker loads.

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
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.clock import iso_timestamp
from engagement.errors import NotFound, ValidationFailed
from engagement.models import (
    Article,
    Comment,
    Delivery,
    Event,
    EventType,
    Webhook,
)
from engagement.models.base import MAX_ID
from engagement.privacy import Keyring
from engagement.services import audit

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
