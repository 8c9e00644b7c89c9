"""Admin endpoints for webhooks and their deliveries (Authorization: Bearer <admin token>)."""
from __future__ import annotations

from typing import Any

from flask import current_app

from engagement.api.auth import current_actor, install_token_auth, protected
from engagement.api.common import EngagementBlueprint, keyring, now, transactional
from engagement.extensions import db
from engagement.models import Delivery, Role, Webhook
from engagement.schemas.notifications import (
    DeliveryPageSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from engagement.services import deliveries, webhooks
from engagement.services.deliveries import DeliveryPage
from engagement.services.webhooks import CreatedWebhook

blp = EngagementBlueprint(
    "notifications", __name__, url_prefix="/api/v1/mod",
    description="Webhooks and deliveries: signed event notifications (admin token required)",
)
install_token_auth(blp)


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its url (if any) resolved and vouched for, before any transaction: a DNS
    lookup must never run while SQLite's write lock is held."""
    if "url" not in body:
        return body
    allow_private = bool(current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    return {**body, "url": webhooks.check_destination(body["url"], allow_private=allow_private)}


@blp.route("/webhooks", methods=["POST"])
@protected(blp, Role.ADMIN)
@blp.arguments(WebhookCreateSchema())
@blp.response(201, WebhookCreatedSchema)
def create_webhook(body: dict[str, Any]) -> CreatedWebhook:
    """Subscribe a URL to event types; the signing secret is in this response only."""
    return _save_webhook(_checked(body))


@transactional
def _save_webhook(body: dict[str, Any]) -> CreatedWebhook:
    return webhooks.create_webhook(
        db.session, keyring(), destination=body["url"], event_types=body["event_types"], active=body["active"],
        description=body.get("description"), actor=current_actor(), now=now(),
    )


@blp.route("/webhooks", methods=["GET"])
@protected(blp, Role.ADMIN)
@blp.response(200, WebhookListSchema)
def list_webhooks() -> dict[str, list[Webhook]]:
    """Every webhook, oldest first (secrets are never shown again)."""
    return {"webhooks": webhooks.list_webhooks(db.session)}


@blp.route("/webhooks/<id:webhook_id>", methods=["PATCH"])
@protected(blp, Role.ADMIN)
@blp.arguments(WebhookUpdateSchema())
@blp.response(200, WebhookSchema)
def update_webhook(changes: dict[str, Any], webhook_id: int) -> Webhook:
    """Change a webhook's url, event types, active flag or description."""
    return _change_webhook(_checked(changes), webhook_id)


@transactional
def _change_webhook(changes: dict[str, Any], webhook_id: int) -> Webhook:
    return webhooks.update_webhook(db.session, webhook_id=webhook_id, changes=changes, actor=current_actor(), now=now())


@blp.route("/webhooks/<id:webhook_id>", methods=["DELETE"])
@protected(blp, Role.ADMIN)
@blp.response(204)
@transactional
def delete_webhook(webhook_id: int) -> None:
    """Delete a webhook and its deliveries."""
    webhooks.delete_webhook(db.session, webhook_id=webhook_id, actor=current_actor(), now=now())


@blp.route("/deliveries", methods=["GET"])
@protected(blp, Role.ADMIN)
@blp.arguments(DeliveryQuerySchema(), location="query")
@blp.response(200, DeliveryPageSchema)
def list_deliveries(query: dict[str, Any]) -> DeliveryPage:
    """Deliveries newest first; `status=failed` lists the dead letters."""
    return deliveries.list_deliveries(
        db.session, keyring(), status=query.get("status"), limit=query["limit"], cursor=query.get("cursor")
    )


@blp.route("/deliveries/<id:delivery_id>/retry", methods=["POST"])
@protected(blp, Role.ADMIN)
@blp.response(200, DeliverySchema)
@transactional
def retry_delivery(delivery_id: int) -> Delivery:
    """Give a failed delivery a fresh round of attempts, starting with the worker's next pass."""
    return deliveries.retry_delivery(db.session, delivery_id=delivery_id, actor=current_actor(), now=now())
