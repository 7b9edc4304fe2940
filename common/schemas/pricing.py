"""Price lists, promotions and the "what would this cart cost" preview, on the wire."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Any

import annotated_types as at
from pydantic import Field, model_validator

from common.pricing.rules import Channel, PriceMode, PromoKind, Stacking
from common.schemas.base import (
    Amount,
    Id,
    NonNegativePrice,
    Percent,
    PositiveQuantity,
    Quantity,
    ReadSchema,
    Schema,
)

Group = Annotated[str, Field(min_length=1, max_length=40)]
Count = Annotated[int, at.Ge(0), at.Le(1000)]


class WindowIn(Schema):
    """When and where a rule is live; empty lists mean every branch, channel or group."""

    valid_from: datetime | None = None
    valid_to: datetime | None = None
    weekdays: list[Annotated[int, at.Ge(0), at.Le(6)]] = Field(default_factory=list, max_length=7)
    time_from: time | None = None
    time_to: time | None = None
    branch_ids: list[Id] = Field(default_factory=list, max_length=1000)
    channels: list[Channel] = Field(default_factory=list, max_length=3)
    customer_groups: list[Group] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        for stamp in (self.valid_from, self.valid_to):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("valid_from and valid_to need a time zone (e.g. +05:30)")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class PriceListItemIn(Schema):
    """One price: for a product, a category, or (neither) everything on the list."""

    mode: PriceMode
    value: NonNegativePrice
    product_id: Id | None = None
    category_id: Id | None = None
    min_quantity: PositiveQuantity = Decimal(1)

    @model_validator(mode="after")
    def _target(self) -> PriceListItemIn:
        if self.product_id is not None and self.category_id is not None:
            raise ValueError("an item prices a product or a category, not both")
        if self.mode == PriceMode.LIST_MINUS and self.value > 100:
            raise ValueError("list − % takes a percent between 0 and 100")
        return self


class PriceListIn(Schema):
    """A price list as a manager writes it."""

    name: str = Field(min_length=1, max_length=120)
    priority: Annotated[int, at.Ge(0), at.Le(1000)] = 0
    tax_inclusive: bool = True
    window: WindowIn = Field(default_factory=WindowIn)
    items: list[PriceListItemIn] = Field(min_length=1, max_length=5000)


class PromotionIn(Schema):
    """A promotion as a manager writes it; which numbers matter depends on kind."""

    name: str = Field(min_length=1, max_length=120)
    kind: PromoKind
    priority: Annotated[int, at.Ge(0), at.Le(1000)] = 0
    stacking: Stacking = Stacking.STACKABLE
    window: WindowIn = Field(default_factory=WindowIn)
    product_ids: list[Id] = Field(default_factory=list, max_length=5000)
    category_ids: list[Id] = Field(default_factory=list, max_length=1000)
    get_product_ids: list[Id] = Field(default_factory=list, max_length=1000)
    percent: Percent = Decimal(0)
    amount: NonNegativePrice = Decimal(0)
    price: NonNegativePrice = Decimal(0)
    buy_qty: Count = 0
    get_qty: Count = 0
    bundle_qty: Count = 0
    min_spend: NonNegativePrice = Decimal(0)
    # Coupon limits (None: no limit). Offline, each till may redeem the code this many times
    # before it next hears from the server; the server counts every use when sales arrive.
    max_uses: Annotated[int, at.Ge(1), at.Le(1_000_000)] | None = None
    max_uses_per_customer: Annotated[int, at.Ge(1), at.Le(1000)] | None = None
    offline_uses_per_till: Annotated[int, at.Ge(0), at.Le(1000)] | None = None
    coupon_code: str | None = Field(
        default=None, min_length=3, max_length=40, pattern=r"^[A-Z0-9-]+$"
    )

    @model_validator(mode="after")
    def _needs(self) -> PromotionIn:
        kind = self.kind
        if kind in (PromoKind.PERCENT_OFF, PromoKind.BASKET_PERCENT) and self.percent <= 0:
            raise ValueError(f"a {kind} promotion needs a percent above 0")
        if kind in (PromoKind.AMOUNT_OFF, PromoKind.BASKET_AMOUNT) and self.amount <= 0:
            raise ValueError(f"a {kind} promotion needs an amount above 0")
        if kind == PromoKind.BUY_X_GET_Y and (self.buy_qty < 1 or self.get_qty < 1):
            raise ValueError("buy X get Y needs buy_qty and get_qty of at least 1")
        if kind == PromoKind.BUNDLE and (self.bundle_qty < 2 or self.price <= 0):
            raise ValueError("a bundle needs bundle_qty of at least 2 and a price above 0")
        limits = (self.max_uses, self.max_uses_per_customer, self.offline_uses_per_till)
        if self.coupon_code is None and any(x is not None for x in limits):
            raise ValueError("use limits belong to a coupon: give a coupon_code")
        if kind == PromoKind.FIXED_PRICE and not (self.product_ids or self.category_ids):
            raise ValueError("a fixed promotional price names its products or categories")
        return self


class RuleRead(ReadSchema):
    """A stored price list or promotion: its definition and its life."""

    id: int
    name: str
    active: bool
    ended_at: datetime | None
    created_at: datetime
    spec: dict[str, Any]


class PreviewLine(Schema):
    product_id: Id
    quantity: PositiveQuantity


class PreviewIn(Schema):
    """A cart to price without selling it."""

    lines: list[PreviewLine] = Field(min_length=1, max_length=500)
    channel: Channel = Channel.TILL
    branch_id: Id | None = None
    customer_group: Group | None = None
    customer_id: Id | None = None
    at: datetime | None = None
    coupon_codes: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=10
    )


class ReasonRead(ReadSchema):
    source: str
    rule_id: int | None
    text: str
    amount: Amount


class PricedLineRead(ReadSchema):
    line_id: str
    product_id: int
    quantity: Quantity
    base_price: Amount
    unit_price: Amount
    gross: Amount
    discount: Amount
    total: Amount
    tax: Amount
    reasons: list[ReasonRead]


class AppliedRead(ReadSchema):
    promotion_id: int
    name: str
    amount: Amount
    coupon_code: str | None = None


class PreviewRead(ReadSchema):
    lines: list[PricedLineRead]
    applied: list[AppliedRead]
    subtotal: Amount
    discount: Amount
    tax: Amount
    total: Amount
    saved: Amount
