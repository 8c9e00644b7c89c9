"""Webhook subscriptions and deliveries: requests and responses."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from engagement.models import DeliveryKind, DeliveryStatus, EventType
from engagement.schemas.common import OptionalText, Timestamp, is_http_url
from engagement.schemas.moderation import StrictBoolean

EVENT_TYPES = [kind.value for kind in EventType]


class HttpUrl(fields.String):
    """A required absolute http(s) URL, at most 2000 characters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > 2000:
            raise ValidationError("Longer than maximum length 2000.")
        if not is_http_url(text):
            raise ValidationError("Must be an absolute http:// or https:// URL.")
        return text


def EventTypes(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.Enum(
            EventType, by_value=True,
            validate=validate.OneOf(list(EventType), error=f"Must be one of: {', '.join(EVENT_TYPES)}."),
        ),
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={
            "description": "Event types to receive (at least one). `comment.published` also receives "
            "`reply.published`."
        },
        **kwargs,
    )


class WebhookCreateSchema(Schema):
    url = HttpUrl(required=True, metadata={"description": "Where events are POSTed; must resolve to a public "
                                                            "address unless private ones are allowed."})
    event_types = EventTypes(required=True)
    active = StrictBoolean(load_default=True, metadata={"description": "Inactive webhooks receive nothing."})
    description = OptionalText(max_length=200, metadata={"description": "A note for admins, e.g. who runs it."})


class WebhookUpdateSchema(Schema):
    """Any of these."""

    url = HttpUrl()
    event_types = EventTypes()
    active = StrictBoolean()
    description = OptionalText(max_length=200)


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    description = fields.String(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        required=True,
        metadata={"description": "The signing secret (`whsec_...`), shown only in this response: "
                                 "receivers verify `webhook-signature` with it."},
    )


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


class DeliveryQuerySchema(Schema):
    status = fields.Enum(
        DeliveryStatus, by_value=True,
        metadata={"description": "Only deliveries in this state; `failed` is the dead letter. Default: every state."},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=500))


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.Integer(required=True)
    event_type = fields.String(required=True)
    kind = fields.Enum(DeliveryKind, by_value=True, required=True)
    webhook_id = fields.Integer(allow_none=True, required=True)
    status = fields.Enum(DeliveryStatus, by_value=True, required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = Timestamp(required=True)
    last_error = fields.String(allow_none=True, required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    created_at = Timestamp(required=True)
    delivered_at = Timestamp(allow_none=True, required=True)


class DeliveryPageSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
