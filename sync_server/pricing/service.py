"""Create, change and end pricing rules; price carts with the shared engine.

Every change of a rule goes to the tills through the change feed (entity "price_list" or
"promotion"), so a till prices offline with the rules the server prices online orders with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidState, ValidationFailed
from common.money import DEFAULT_CURRENCY
from common.pricing import Channel, Context, LineIn, PricedCart, Rules, price_cart
from common.pricing.wire import price_list_from_data, promotion_from_data
from common.schemas.pricing import PriceListIn, PromotionIn
from sync_server.audit import service as audit
from sync_server.catalog.models import Category, Product
from sync_server.db import utcnow
from sync_server.foundation import feed
from sync_server.foundation.principal import Principal
from sync_server.lookups import get_owned
from sync_server.org.models import Branch
from sync_server.org.service import get_setting
from sync_server.pricing.models import PricingRule

PRICE_LIST = "price_list"
PROMOTION = "promotion"
_WHAT = {PRICE_LIST: "price list", PROMOTION: "promotion"}


def rule_feed_data(rule: PricingRule) -> dict[str, Any]:
    """Return what a till replicates of a rule."""
    return {"id": rule.id, "name": rule.name, "spec": rule.spec}


def _publish(session: Session, rule: PricingRule) -> None:
    session.flush()
    feed.publish(
        session,
        tenant_id=rule.tenant_id,
        entity=rule.rule_type,
        key=rule.id,
        data=rule_feed_data(rule) if rule.active else None,
    )


def _check_refs(session: Session, *, tenant_id: int, data: PriceListIn | PromotionIn) -> None:
    """Refuse ids of products, categories or branches that are not this tenant's."""
    products: set[int] = set()
    categories: set[int] = set()
    if isinstance(data, PriceListIn):
        products |= {i.product_id for i in data.items if i.product_id is not None}
        categories |= {i.category_id for i in data.items if i.category_id is not None}
    else:
        products |= set(data.product_ids) | set(data.get_product_ids)
        categories |= set(data.category_ids)
    checks = (
        (Product, products, "product"),
        (Category, categories, "category"),
        (Branch, set(data.window.branch_ids), "branch"),
    )
    for model, ids, what in checks:
        if not ids:
            continue
        found = set(
            session.scalars(
                select(model.id).where(model.tenant_id == tenant_id, model.id.in_(sorted(ids)))
            )
        )
        missing = sorted(ids - found)
        if missing:
            raise ValidationFailed(f"There is no {what} with id {missing[0]}.")


def _check_coupon(
    session: Session, *, tenant_id: int, code: str | None, rule_id: int | None
) -> None:
    if code is None:
        return
    clash = session.scalar(
        select(PricingRule.id).where(
            PricingRule.tenant_id == tenant_id,
            PricingRule.active.is_(True),
            PricingRule.coupon_code == code,
            PricingRule.id != (rule_id or 0),
        )
    )
    if clash is not None:
        raise Conflict(f"The coupon code {code} is already used by promotion {clash}.")


def create_rule(
    session: Session, *, actor: Principal, rule_type: str, data: PriceListIn | PromotionIn
) -> PricingRule:
    """Store a new price list or promotion and send it to the tills."""
    _check_refs(session, tenant_id=actor.tenant_id, data=data)
    code = getattr(data, "coupon_code", None)
    _check_coupon(session, tenant_id=actor.tenant_id, code=code, rule_id=None)
    rule = PricingRule(
        tenant_id=actor.tenant_id,
        rule_type=rule_type,
        name=data.name,
        spec=data.model_dump(mode="json", exclude={"name"}),
        coupon_code=code,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action=f"{rule_type}.created",
        entity_type=rule_type,
        entity_id=rule.id,
        after=rule_feed_data(rule),
    )
    _publish(session, rule)
    return rule


def get_rule(session: Session, *, tenant_id: int, rule_type: str, rule_id: int) -> PricingRule:
    """Return a rule of the tenant, or NotFound."""
    rule = get_owned(session, PricingRule, id=rule_id, tenant_id=tenant_id, what=_WHAT[rule_type])
    if rule.rule_type != rule_type:
        get_owned(session, PricingRule, id=0, tenant_id=tenant_id, what=_WHAT[rule_type])
    return rule


def replace_rule(
    session: Session, *, actor: Principal, rule: PricingRule, data: PriceListIn | PromotionIn
) -> PricingRule:
    """Replace a live rule's definition (an ended rule stays as it ended)."""
    if not rule.active:
        raise InvalidState(f"{_WHAT[rule.rule_type].capitalize()} {rule.id} has ended.")
    _check_refs(session, tenant_id=actor.tenant_id, data=data)
    code = getattr(data, "coupon_code", None)
    _check_coupon(session, tenant_id=actor.tenant_id, code=code, rule_id=rule.id)
    before = rule_feed_data(rule)
    rule.name = data.name
    rule.spec = data.model_dump(mode="json", exclude={"name"})
    rule.coupon_code = code
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action=f"{rule.rule_type}.updated",
        entity_type=rule.rule_type,
        entity_id=rule.id,
        before=before,
        after=rule_feed_data(rule),
    )
    _publish(session, rule)
    return rule


def end_rule(session: Session, *, actor: Principal, rule: PricingRule) -> PricingRule:
    """End a rule now: it prices nothing from here on, on the server and on every till."""
    if not rule.active:
        raise InvalidState(f"{_WHAT[rule.rule_type].capitalize()} {rule.id} has already ended.")
    rule.active = False
    rule.ended_at = utcnow()
    audit.record(
        session,
        actor=actor.actor,
        action=f"{rule.rule_type}.ended",
        entity_type=rule.rule_type,
        entity_id=rule.id,
        before=rule_feed_data(rule),
    )
    _publish(session, rule)
    return rule


def live_rule_rows(
    session: Session, *, tenant_id: int, rule_type: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """Return a page of live rules of one type as the tills receive them (snapshot pages)."""
    rows = session.scalars(
        select(PricingRule)
        .where(
            PricingRule.tenant_id == tenant_id,
            PricingRule.rule_type == rule_type,
            PricingRule.active.is_(True),
            PricingRule.id > after,
        )
        .order_by(PricingRule.id)
        .limit(limit)
    )
    return [rule_feed_data(rule) for rule in rows]


# Built once: every sale and online order prices with these.
_ACTIVE_RULES = (
    select(PricingRule.id, PricingRule.rule_type, PricingRule.name, PricingRule.spec)
    .where(PricingRule.tenant_id == bindparam("tenant_id"), PricingRule.active.is_(True))
    .order_by(PricingRule.id)
)


def active_rules(session: Session, *, tenant_id: int) -> Rules:
    """Return the tenant's live rules as the engine reads them."""
    return rules_from_rows(session.execute(_ACTIVE_RULES, {"tenant_id": tenant_id}))


def rules_from_rows(rows: Iterable[Sequence[Any]]) -> Rules:
    """Return the rules from (id, rule_type, name, spec) rows of live rules, in id order."""
    listed = list(rows)
    return Rules(
        price_lists=tuple(
            price_list_from_data(rule_id=i, name=n, spec=s)
            for i, t, n, s in listed
            if t == PRICE_LIST
        ),
        promotions=tuple(
            promotion_from_data(rule_id=i, name=n, spec=s)
            for i, t, n, s in listed
            if t == PROMOTION
        ),
    )


@dataclass(frozen=True, slots=True)
class CartLine:
    """A line to price on the server: a product of the tenant and how many."""

    line_id: str
    product_id: int
    quantity: Decimal


def product_line(*, line_id: str, product: Product, quantity: Decimal) -> LineIn:
    """Return a catalog product as an engine line (price, category, cost, tax)."""
    return LineIn(
        line_id=line_id,
        product_id=product.id,
        category_id=product.category_id,
        quantity=quantity,
        base_price=product.price,
        cost=product.cost,
        tax_rate=product.tax_rate,
    )


def engine_lines(session: Session, *, tenant_id: int, lines: Sequence[CartLine]) -> list[LineIn]:
    """Read the catalog facts the engine needs for each line."""
    ids = sorted({line.product_id for line in lines})
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.tenant_id == tenant_id, Product.id.in_(ids))
        )
    }
    out = []
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            raise ValidationFailed(f"There is no product with id {line.product_id}.")
        out.append(product_line(line_id=line.line_id, product=product, quantity=line.quantity))
    return out


def shop_now(session: Session, *, tenant_id: int, zone: str | None = None) -> datetime:
    """Return now on the shop's wall clock (its time zone setting), as tills price in.

    A caller that has read the tenant's settings already passes the zone from them.
    """
    if zone is None:
        zone = str(get_setting(session, tenant_id=tenant_id, key="time_zone"))
    return utcnow().astimezone(ZoneInfo(zone))


def context(
    session: Session,
    *,
    tenant_id: int,
    channel: Channel,
    branch_id: int | None,
    at: datetime | None = None,
    customer_group: str | None = None,
    customer_id: int | None = None,
    coupon_codes: frozenset[str] = frozenset(),
) -> Context:
    """Return the pricing context of a cart priced on the server (now, unless at is given)."""
    return Context(
        at=at if at is not None else shop_now(session, tenant_id=tenant_id),
        channel=channel,
        branch_id=branch_id,
        customer_group=customer_group,
        customer_id=customer_id,
        coupon_codes=coupon_codes,
    )


def price_lines(
    session: Session,
    *,
    tenant_id: int,
    lines: Sequence[LineIn],
    ctx: Context,
    currency: str = DEFAULT_CURRENCY,
    rules: Rules | None = None,
) -> PricedCart:
    """Price engine lines against the tenant's live rules (read here unless given)."""
    if rules is None:
        rules = active_rules(session, tenant_id=tenant_id)
    return price_cart(lines=lines, ctx=ctx, rules=rules, currency=currency)


def price(
    session: Session, *, tenant_id: int, lines: Sequence[CartLine], ctx: Context
) -> PricedCart:
    """Price a cart of the tenant's products against its live rules."""
    return price_lines(
        session,
        tenant_id=tenant_id,
        lines=engine_lines(session, tenant_id=tenant_id, lines=lines),
        ctx=ctx,
    )
