"""Webhook deliveries: the events, their payloads, and the signature receivers verify."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common.schemas.webhooks import (
    AlertPayload,
    OrderEventPayload,
    PurchaseOrderPayload,
    SalesRequestPayload,
    StockAvailablePayload,
    WebhookDelivery,
)
from common.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
)

ORDER_EVENTS = (
    "order.created",
    "order.confirmed",
    "order.picking",
    "order.packed",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "order.expired",
    "order.return_requested",
    "order.return_received",
    "order.refunded",
)
ALERT_EVENTS = (
    "alert.low_stock",
    "alert.out_of_stock",
    "alert.negative_stock",
    "alert.credit_over_limit",
)
PURCHASE_ORDER_EVENTS = (
    "purchase_order.approval_requested",
    "purchase_order.approved",
    "purchase_order.rejected",
    "purchase_order.sent",
    "purchase_order.goods_received",
)
SALES_REQUEST_EVENTS = (
    "sales_request.approval_requested",
    "sales_request.approved",
    "sales_request.rejected",
)

# Every event a webhook rule can hear, with the model of its payload.
EVENTS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(ORDER_EVENTS, OrderEventPayload),
    "stock.available": StockAvailablePayload,
    **dict.fromkeys(ALERT_EVENTS, AlertPayload),
    **dict.fromkeys(PURCHASE_ORDER_EVENTS, PurchaseOrderPayload),
    **dict.fromkeys(SALES_REQUEST_EVENTS, SalesRequestPayload),
}

SIGNING = (
    f"Each delivery is a POST of a JSON document with headers `{EVENT_HEADER}` (the event), "
    f"`{DELIVERY_HEADER}` (the delivery id, the same on every retry) and, when the rule has a "
    f"secret, `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>`, where `<hex>` is "
    "HMAC-SHA256 keyed with the rule's secret over `<t>` + `.` + the raw body. Receivers "
    f"recompute it and refuse a delivery whose `t` is more than {TOLERANCE_SECONDS} s from "
    "their clock, so a captured delivery cannot be replayed later "
    "(`common/webhooks.py` has `verify()`). Any 2xx answer means delivered; anything else is "
    "retried with exponential backoff, re-signed with a new `t`."
)


def webhooks_section(schemas: dict[str, Any]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 `webhooks` section (adding the payload schemas to `schemas`)."""
    payloads: set[type[BaseModel]] = {*EVENTS.values(), WebhookDelivery}
    models = sorted(payloads, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas.update(defs.get("$defs", {}))
    section: dict[str, Any] = {}
    for event, model in EVENTS.items():
        delivery = {
            "allOf": [
                {"$ref": "#/components/schemas/WebhookDelivery"},
                {
                    "type": "object",
                    "properties": {
                        "event": {"const": event},
                        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
                    },
                },
            ]
        }
        section[event] = {
            "post": {
                "summary": f"Event {event}",
                "description": (model.__doc__ or "").strip() + "\n\n" + SIGNING,
                "operationId": f"webhook_{event.replace('.', '_')}",
                "tags": ["webhooks"],
                "parameters": [
                    _header(EVENT_HEADER, "The event name", {"const": event}),
                    _header(DELIVERY_HEADER, "The delivery id", {"type": "string"}),
                    _header(
                        SIGNATURE_HEADER,
                        "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'> (rules with a "
                        "secret)",
                        {"type": "string", "pattern": r"^t=[0-9]+,v1=[0-9a-f]{64}$"},
                        required=False,
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": delivery}},
                },
                "responses": {
                    "2XX": {"description": "Delivered; any other answer is retried"},
                },
            }
        }
    return section


def _header(
    name: str, description: str, schema: dict[str, Any], *, required: bool = True
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }
