"""What a webhook delivery carries: the envelope, and the payload of each event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.schemas.base import Amount, Quantity


class WebhookCustomer(BaseModel):
    """The customer an order belongs to, as the store knows them."""

    id: int
    name: str
    email: str | None = None
    phone: str = ""


class WebhookOrderLine(BaseModel):
    product_id: int
    sku: str
    name: str
    unit: str
    quantity: Quantity
    unit_price: Amount
    line_total: Amount
    returned_quantity: Quantity


class OrderEventPayload(BaseModel):
    """The order after the change the event names (order.*)."""

    order_id: int
    external_number: str
    status: str
    branch_id: int
    currency: str
    total: Amount
    paid_amount: Amount
    refunded_amount: Amount
    carrier: str
    tracking_number: str
    shipping_address: str
    customer: WebhookCustomer | None
    lines: list[WebhookOrderLine]


class StockAvailablePayload(BaseModel):
    """What a branch can now sell of a product (stock.available)."""

    product_id: int
    branch_id: int
    available: Quantity


class AlertPayload(BaseModel):
    """An alert that opened (alert.low_stock, alert.out_of_stock, alert.negative_stock,
    alert.credit_over_limit)."""

    model_config = ConfigDict(extra="allow")

    id: int
    kind: str
    branch_id: int | None = None
    product_id: int | None = None
    status: str
    opened_at: datetime | None = None
    cleared_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class PurchaseOrderPayload(BaseModel):
    """A purchase order's step (purchase_order.*)."""

    model_config = ConfigDict(extra="allow")

    purchase_order_id: int
    number: str | None = None
    status: str | None = None
    total: Amount | None = None


class SalesRequestPayload(BaseModel):
    """A wholesale sales request's step (sales_request.*)."""

    model_config = ConfigDict(extra="allow")

    sales_request_id: int
    number: str | None = None
    status: str | None = None
    total: Amount | None = None
    invoice_number: str | None = None


class WebhookDelivery(BaseModel):
    """The JSON body POSTed to a webhook rule's URL (keys sorted, no spaces)."""

    id: int = Field(description="The delivery's id; the same on every retry (deduplicate on it)")
    event: str
    subject: str
    body: str = Field(description="The human-readable text an e-mail of the event would carry")
    payload: dict[str, Any]
