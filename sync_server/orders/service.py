"""Place online orders (validate, reserve, remember the answer) and move them through their life."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, lazyload

from common.codes import QUANTITY_PLACES, Channel, Unit
from common.errors import (
    Conflict,
    DomainError,
    InsufficientStock,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from common.pricing import Channel as PriceChannel
from common.pricing import PricedCart, Rules
from common.schemas.orders import OrderRead
from common.schemas.partners import CustomerCreate
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import (
    buffered_appends,
    insert_parent_with_children,
    is_sqlite,
    lock_for_update,
    select_plainly,
    utcnow,
)
from sync_server.foundation.principal import Principal
from sync_server.inventory import ledger, reservations
from sync_server.inventory.models import BranchProductSetting, StockLevel
from sync_server.notifications import service as notifications
from sync_server.notifications.models import NotificationRule
from sync_server.orders import idempotency
from sync_server.orders.idempotency import Outcome
from sync_server.orders.models import Order, OrderLine, OrderStatus
from sync_server.orders.notify import order_event, stock_available
from sync_server.orders.schemas import CustomerRef, OrderCreate
from sync_server.org import service as org
from sync_server.org.models import Branch, Tenant, TenantSetting
from sync_server.partners import service as partners
from sync_server.partners.models import Customer
from sync_server.pricing import coupons
from sync_server.pricing import service as pricing
from sync_server.pricing.models import PricingRule
from sync_server.tax import service as tax

REFERENCE = "order"
ZERO = Decimal("0")
S = OrderStatus


def snapshot(order: Order) -> dict[str, Any]:
    """Return what the audit log keeps of an order."""
    return {
        "id": order.id,
        "external_number": order.external_number,
        "status": order.status,
        "branch_id": order.branch_id,
        "customer_id": order.customer_id,
        "total": order.total,
        "paid_amount": order.paid_amount,
        "refunded_amount": order.refunded_amount,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    }


def place_order(
    session: Session, *, principal: Principal, key: str, data: OrderCreate, instance: str
) -> Outcome:
    """Create and reserve an order once per Idempotency-Key; a retry gets the first answer.

    A refusal (short stock, unknown SKU…) is an answer too: it is stored, and nothing of the
    refused order stays behind. The order is its unit of work's only writer (the route's
    transaction holds nothing else): a refusal under the level locks rolls the transaction
    back whole, which lets the other orders for those products go on at once.
    """
    fingerprint = idempotency.request_hash(data.model_dump(mode="json"))
    record_id, previous = idempotency.claim(
        session, tenant_id=principal.tenant_id, key=key, fingerprint=fingerprint
    )
    if previous is not None:
        return previous
    try:
        # Its movements, audit entries and feed changes are append-only and never read back
        # here: they go out set-based, one insert per table, as a push's do (db.py).
        if SET_BASED:
            # No savepoint: it refuses (or declines) before its first write, or inside a
            # savepoint of its own when it must create the customer first.
            try:
                with buffered_appends(session):
                    placed = Outcome(
                        201, text=_create_set_based(session, principal=principal, data=data)
                    )
                    # The answer is known: the key's record takes it in the statement that
                    # writes the appended rows and the levels' updates (db.update_with_appends).
                    idempotency.settle(
                        session, record_id=record_id, outcome=placed, tenant_id=principal.tenant_id
                    )
                return placed
            except _LongWay:
                pass  # declined before writing anything: the long way from here
            except _ShortUnderLock as short:
                # The levels it locked are released now, not after the answer is stored
                # (in a race for the last units, the next order waits on them): the claim
                # goes with the rollback, and is taken again.
                session.rollback()
                record_id, previous = idempotency.claim(
                    session, tenant_id=principal.tenant_id, key=key, fingerprint=fingerprint
                )
                if previous is not None:
                    return previous
                raise short.refusal from short
        with session.begin_nested(), buffered_appends(session):
            outcome = Outcome(201, body=_create(session, principal=principal, data=data))
    except DomainError as exc:
        outcome = Outcome(status=exc.status, body=idempotency.problem_body(exc, instance=instance))
    idempotency.settle(session, record_id=record_id, outcome=outcome)
    return outcome


# The set-based way first (tests switch it off to compare the two ways' rows).
SET_BASED = True
_ORDERS = Order.__table__
_LINES = OrderLine.__table__
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id, _ORDERS.c.created_at, _ORDERS.c.updated_at)
_ORDER_READ: TypeAdapter[OrderRead] = TypeAdapter(OrderRead)
_INSERT_LINES = insert(_LINES).returning(_LINES.c.id, sort_by_parameter_order=True)
_ORDER_DEFAULTS: dict[str, Any] = {
    "paid_amount": ZERO,
    "payment_reference": "",
    "refunded_amount": ZERO,
    "carrier": "",
    "tracking_number": "",
    "cancel_reason": "",
    "confirmed_at": None,
    "shipped_at": None,
    "delivered_at": None,
    "closed_at": None,
    "returns": [],
}


# What _products and _refuse_if_short read, and the ledger's facts (ledger._FACTS), at once:
# plain Core rows (no ORM entities), with only the product columns an order reads, named as
# Product's attributes (tests/server/test_order_paths.py compares them with the ORM's).
_PRODUCT_TABLE = Product.__table__
_PRODUCT_COLUMNS = (
    "id",
    "tenant_id",
    "sku",
    "name",
    "unit",
    "active",
    "category_id",
    "price",
    "cost",
    "tax_rate",
    "tax_class_id",
)
_PRODUCTS_AT = (
    select(
        *(_PRODUCT_TABLE.c[name] for name in _PRODUCT_COLUMNS),
        StockLevel.on_hand,
        StockLevel.reserved,
        func.coalesce(BranchProductSetting.low_stock_threshold, Product.low_stock_threshold).label(
            "threshold"
        ),
    )
    .select_from(_PRODUCT_TABLE)
    .outerjoin(
        StockLevel,
        and_(
            StockLevel.tenant_id == bindparam("tenant_id"),
            StockLevel.branch_id == bindparam("branch_id"),
            StockLevel.product_id == Product.id,
        ),
    )
    .outerjoin(
        BranchProductSetting,
        and_(
            BranchProductSetting.tenant_id == bindparam("tenant_id"),
            BranchProductSetting.branch_id == bindparam("branch_id"),
            BranchProductSetting.product_id == Product.id,
        ),
    )
)
_PRODUCTS_HERE = _PRODUCTS_AT.where(
    Product.tenant_id == bindparam("tenant_id"),
    or_(
        Product.sku.in_(bindparam("skus", expanding=True)),
        Product.id.in_(bindparam("ids", expanding=True)),
    ),
)
# PostgreSQL: the SKUs and ids as two array parameters (= ANY), so the statement's text is
# the same for every order (an expanding IN is rendered again for each one).
_PRODUCTS_HERE_PG = _PRODUCTS_AT.where(
    Product.tenant_id == bindparam("tenant_id"),
    or_(
        Product.sku == any_(bindparam("skus", type_=ARRAY(String))),
        Product.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
    ),
)


def _products_here(session: Session, params: dict[str, Any]) -> Sequence[Any]:
    """Return the rows of _PRODUCTS_HERE (params: tenant_id, branch_id, skus, ids): on
    PostgreSQL its array form, as its text compiled once (db.select_plainly)."""
    if is_sqlite(session.get_bind()):
        return session.connection().execute(_PRODUCTS_HERE, params).all()
    return select_plainly(session, _PRODUCTS_HERE_PG, params).all()  # type: ignore[no-any-return]


class _LongWay(Exception):
    """The set-based way does not place this order: _create does, in the same transaction."""


class _ShortUnderLock(Exception):
    """The set-based way found the stock short under the level locks (it wrote nothing)."""

    def __init__(self, refusal: InsufficientStock) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _create_set_based(session: Session, *, principal: Principal, data: OrderCreate) -> bytes:
    """Place an order as _create does, with fewer and plainer statements.

    The products, their levels here and the ledger's facts of them are one read; the levels
    are locked and checked (and their lots looked for) before anything is written, so every
    refusal, and the long way, comes before the first write: no savepoint is needed (two
    round trips fewer), and a refusal leaves nothing behind. Only a new customer is written
    before pricing, which could still refuse: that order runs the rest in a savepoint. The
    order and its lines are two plain inserts (no ORM objects, no unit-of-work flush), and
    the reservation reads none of the levels again. The rows are the ones _create writes
    (tests/server/test_order_paths.py). Raises _LongWay, having written nothing, for what it
    leaves to _create: coupons, notification rules listening to orders or availability, and
    products that keep lots at the branch.
    """
    if data.coupon_codes:
        raise _LongWay
    tenant_id = principal.tenant_id
    config: tuple[dict[str, Any], Rules] | None = None
    if is_sqlite(session.get_bind()):
        branch, currency, duplicate = _branch(session, principal=principal, data=data)
        listening = any(
            notifications.listens(session, tenant_id=tenant_id, event=event, branch_id=branch.id)
            for event in _LISTENED
        )
    else:
        by_id, by_code = _CONFIGURED_WITH[_customer_key(data.customer)]
        branch, currency, duplicate, stored, rule_rows, patterns, *named = _branch_row(
            session, principal=principal, data=data, by_id=by_id, by_code=by_code,
            customer=data.customer, plain=True,
        )  # fmt: skip
        config = (org.settings_from(stored or {}), pricing.rules_from_rows(rule_rows or ()))
        found_customer = named[0] if named else None
        listening = any(notifications.matches(p, e) for p in patterns or () for e in _LISTENED)
    # The products with their level here and the ledger's facts of them, in one read.
    found = _products_here(
        session,
        {
            "tenant_id": tenant_id,
            "branch_id": branch.id,
            "skus": sorted({line.sku for line in data.lines if line.sku is not None}),
            "ids": sorted({line.product_id for line in data.lines if line.product_id is not None}),
        },
    )
    products = _matched(found, data)
    if duplicate is not None:
        raise Conflict(
            f"Order {data.external_number} already exists (id {duplicate}); "
            "send it with its original Idempotency-Key to read it back.",
            order_id=duplicate,
        )
    needed: dict[int, Decimal] = {}
    for line, product in zip(data.lines, products, strict=True):
        needed[product.id] = needed.get(product.id, Decimal("0")) + line.quantity
    _refuse_short(
        {
            row.id: row.on_hand - row.reserved
            for row in found
            if row.on_hand is not None and row.reserved is not None
        },
        needed=needed,
        products=products,
    )
    facts = [
        ledger.Facts(row.id, row.tenant_id, row.name, row.sku, row.threshold)
        for row in found
        if row.id in needed
    ]
    if config is None:
        customer = _customer(session, principal=principal, ref=data.customer)
    else:  # read with the branch, as _customer would have read it
        customer = _customer_read(
            session, principal=principal, ref=data.customer, found=found_customer
        )
    if listening:
        raise _LongWay
    try:
        lotless = reservations.lock_for_reserve(
            session,
            tenant_id=tenant_id,
            branch_id=branch.id,
            lines=list(needed.items()),
            facts=facts,
        )
    except InsufficientStock as exc:
        raise _ShortUnderLock(_short_lines(exc, products)) from exc
    if not lotless:
        raise _LongWay
    if customer is not None:
        return _write_set_based(
            session, principal=principal, data=data, branch=branch, currency=currency,
            products=products, customer=customer, config=config,
        )  # fmt: skip
    with session.begin_nested():
        customer = _new_customer(session, principal=principal, ref=data.customer)
        return _write_set_based(
            session, principal=principal, data=data, branch=branch, currency=currency,
            products=products, customer=customer, config=config,
        )  # fmt: skip


def _write_set_based(
    session: Session,
    *,
    principal: Principal,
    data: OrderCreate,
    branch: Branch,
    currency: str,
    products: list[Product],
    customer: Customer,
    config: tuple[dict[str, Any], Rules] | None,
) -> bytes:
    """Price the order, write it with its lines and reserve its locked levels (set-based);
    return the answer's JSON text.

    config: the tenant's settings and live pricing rules when already read, else None.
    """
    tenant_id = principal.tenant_id
    settings, rules = config or (org.get_settings(session, tenant_id=tenant_id), None)
    minutes = int(settings["order_reservation_minutes"])
    priced = _price_online(
        session,
        data=data,
        products=products,
        branch_id=branch.id,
        customer=customer,
        zone=settings["time_zone"],
        currency=currency,
        coupon_codes=frozenset(),
        rules=rules,
    )
    total = Decimal("0")
    supply = tax.order_supply(branch=branch, customer=customer)
    lines: list[dict[str, Any]] = []
    for line, product, result in zip(data.lines, products, priced.lines, strict=True):
        total += result.total
        line_tax = tax.line_tax(
            session, product=product, amount=result.total, supply=supply, currency=currency
        )
        lines.append(
            {
                "tenant_id": tenant_id,
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "unit": product.unit,
                "quantity": line.quantity,
                "unit_price": result.unit_price,
                "discount": result.discount,
                "line_total": result.total,
                "tax": line_tax.tax,
                "tax_detail": line_tax.to_wire(),
            }
        )
    order: dict[str, Any] = {
        "tenant_id": tenant_id,
        "external_number": data.external_number,
        "channel": Channel.ONLINE.value,
        "status": S.PENDING_PAYMENT,
        "customer_id": customer.id,
        "branch_id": branch.id,
        "api_key_id": principal.api_key_id,
        "currency": currency,
        "shipping_address": data.shipping_address or customer.address,
        "notes": data.notes,
        "reserved_until": utcnow() + timedelta(minutes=minutes),
        "total": total,
    }
    # Plain inserts on the session's connection (no ORM execution: nothing is pending).
    if is_sqlite(session.get_bind()):
        conn = session.connection()
        made = conn.execute(_INSERT_ORDER, order).one()
        order_id, created_at, updated_at = made.id, made.created_at, made.updated_at
        for row in lines:
            row["order_id"] = order_id
        ids = list(conn.execute(_INSERT_LINES, lines).scalars().all())
    else:  # the order and its lines in one statement
        (order_id, created_at, updated_at), ids = insert_parent_with_children(
            session, _ORDERS, order, returning=("id", "created_at", "updated_at"),
            child_table=_LINES, column="order_id", child_rows=lines,
        )  # fmt: skip
        for row in lines:
            row["order_id"] = order_id
    order.update(_ORDER_DEFAULTS, id=order_id, created_at=created_at, updated_at=updated_at)
    for row, line_id in zip(lines, ids, strict=True):
        row.update(id=line_id, returned_quantity=ZERO)
    order["lines"] = lines
    # The answer's JSON text, made once: the route sends it and the key's record keeps it.
    body = _ORDER_READ.dump_json(OrderRead.model_validate(order))
    reservations.reserve_locked(
        session,
        actor=principal.actor,
        branch_id=branch.id,
        lines=[(row["product_id"], row["quantity"]) for row in lines],
        reference_type=REFERENCE,
        reference_id=str(order_id),
    )
    audit.record(
        session,
        actor=principal.actor,
        action="order.created",
        entity_type="order",
        entity_id=order_id,
        after={
            **{key: order[key] for key in _SNAPSHOT},
            "lines": [{key: row[key] for key in _LINE_DATA} for row in lines],
        },
    )
    return body


_SNAPSHOT = (
    "id",
    "external_number",
    "status",
    "branch_id",
    "customer_id",
    "total",
    "paid_amount",
    "refunded_amount",
    "carrier",
    "tracking_number",
)


def _price_online(
    session: Session,
    *,
    data: OrderCreate,
    products: list[Product],
    branch_id: int,
    customer: Customer,
    zone: str,
    currency: str,
    coupon_codes: frozenset[str],
    rules: Rules | None = None,
) -> PricedCart:
    """Price an order's lines with the same engine and rules as the tills (channel online);
    rules: the tenant's live rules when already read."""
    tenant_id = customer.tenant_id  # the order's business: its customer is found within it
    return pricing.price_lines(
        session,
        tenant_id=tenant_id,
        lines=[
            pricing.product_line(line_id=str(n), product=product, quantity=line.quantity)
            for n, (line, product) in enumerate(zip(data.lines, products, strict=True))
        ],
        ctx=pricing.context(
            session,
            tenant_id=tenant_id,
            at=pricing.shop_now(session, tenant_id=tenant_id, zone=zone),
            channel=PriceChannel.ONLINE,
            branch_id=branch_id,
            customer_group=customer.price_group,
            customer_id=customer.id,
            coupon_codes=coupon_codes,
        ),
        currency=currency,
        rules=rules,
    )


# The events whose listening rules send an order the long way (it queues their notifications).
_LISTENED = ("order.created", "stock.available")
_LINE_DATA = ("product_id", "quantity", "unit_price")


def _create(session: Session, *, principal: Principal, data: OrderCreate) -> dict[str, Any]:
    """Validate, create and reserve an order; return its JSON answer."""
    tenant_id = principal.tenant_id
    branch, currency, duplicate = _branch(session, principal=principal, data=data)
    products = _products(session, tenant_id=tenant_id, data=data)
    if duplicate is not None:
        raise Conflict(
            f"Order {data.external_number} already exists (id {duplicate}); "
            "send it with its original Idempotency-Key to read it back.",
            order_id=duplicate,
        )
    needed: dict[int, Decimal] = {}
    for line, product in zip(data.lines, products, strict=True):
        needed[product.id] = needed.get(product.id, Decimal("0")) + line.quantity
    levels = _refuse_if_short(
        session, tenant_id=tenant_id, branch_id=branch.id, needed=needed, products=products
    )
    customer = _customer(session, principal=principal, ref=data.customer)
    if customer is None:
        customer = _new_customer(session, principal=principal, ref=data.customer)
    # Every setting in one read (reservation minutes here, the time zone for pricing).
    settings = org.get_settings(session, tenant_id=tenant_id)
    minutes = int(settings["order_reservation_minutes"])
    order = Order(
        tenant_id=tenant_id,
        external_number=data.external_number,
        channel=Channel.ONLINE.value,
        status=S.PENDING_PAYMENT,
        customer_id=customer.id,
        branch_id=branch.id,
        api_key_id=principal.api_key_id,
        currency=currency,
        shipping_address=data.shipping_address or customer.address,
        notes=data.notes,
        reserved_until=utcnow() + timedelta(minutes=minutes),
        returns=[],
    )
    codes = coupons.check_online(
        session, tenant_id=tenant_id, codes=data.coupon_codes, customer_id=customer.id
    )
    # The same engine and rules as the tills: the same cart costs the same online.
    priced = _price_online(
        session,
        data=data,
        products=products,
        branch_id=branch.id,
        customer=customer,
        zone=settings["time_zone"],
        currency=currency,
        coupon_codes=frozenset(codes),
    )
    total = Decimal("0")
    supply = tax.order_supply(branch=branch, customer=customer)
    for line, product, result in zip(data.lines, products, priced.lines, strict=True):
        line_total = result.total
        total += line_total
        line_tax = tax.line_tax(
            session, product=product, amount=line_total, supply=supply, currency=currency
        )
        order.lines.append(
            OrderLine(
                tenant_id=tenant_id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                unit=product.unit,
                quantity=line.quantity,
                unit_price=result.unit_price,
                discount=result.discount,
                line_total=line_total,
                tax=line_tax.tax,
                tax_detail=line_tax.to_wire(),
            )
        )
    order.total = total
    session.add(order)
    session.flush()
    coupons.record_online(
        session,
        tenant_id=tenant_id,
        codes=codes,
        applied={a.coupon_code: a.promotion_id for a in priced.applied if a.coupon_code},
        document=f"order:{order.id}",
        customer_id=customer.id,
    )
    # Built before the reservation: from there on this transaction holds the level locks,
    # so the less it does after, the less other orders of these products wait.
    body = OrderRead.model_validate(order).model_dump(mode="json")
    order_event(session, order=order, event="order.created", availability=False)
    try:
        reservations.reserve(
            session,
            actor=principal.actor,
            branch_id=branch.id,
            lines=[(line.product_id, line.quantity) for line in order.lines],
            reference_type=REFERENCE,
            reference_id=str(order.id),
        )
    except InsufficientStock as exc:
        raise _short_lines(exc, products) from exc
    audit.record(
        session,
        actor=principal.actor,
        action="order.created",
        entity_type="order",
        entity_id=order.id,
        after={**snapshot(order), "lines": _line_data(order)},
    )
    stock_available(session, order=order, levels=levels)
    return body


def _refuse_if_short(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    needed: dict[int, Decimal],
    products: list[Product],
) -> dict[int, StockLevel]:
    """Refuse at once, without queueing for row locks, when stock is already too low.

    The read is unlocked but current (READ COMMITTED): the stock was short at that moment,
    which is a true answer; orders that pass still reserve under the level locks.
    """
    rows = {
        row.product_id: row
        for row in session.scalars(
            select(StockLevel).where(
                StockLevel.tenant_id == tenant_id,
                StockLevel.branch_id == branch_id,
                StockLevel.product_id.in_(list(needed)),
            )
        )
    }
    _refuse_short(
        {product_id: row.on_hand - row.reserved for product_id, row in rows.items()},
        needed=needed,
        products=products,
    )
    # The identity map keeps these rows; the reservation's locked reads refresh them.
    return rows


def _refuse_short(
    levels: dict[int, Decimal], *, needed: dict[int, Decimal], products: list[Product]
) -> None:
    """Refuse the order when a product's available stock (levels) is below what it needs."""
    short = [
        ledger.shortage(
            product_id=product_id, requested=quantity, available=levels.get(product_id, ZERO)
        )
        for product_id, quantity in sorted(needed.items())
        if levels.get(product_id, ZERO) < quantity
    ]
    if short:
        raise _short_lines(InsufficientStock("short", lines=short), products)


def _short_lines(exc: InsufficientStock, products: list[Product]) -> InsufficientStock:
    """Name each short line by SKU, so the store can tell its customer what is missing."""
    by_id = {p.id: p for p in products}
    lines = []
    for line in exc.extra.get("lines", []):
        product = by_id.get(line["product_id"])
        lines.append({**line, "sku": product.sku if product else None})
    summary = ", ".join(
        f"{line['sku']}: {line['available']} available"
        # Expired lots are on the shelf but never promised: say why the figure is low.
        + (", the rest past its expiry date" if line.get("reason") == "expired" else "")
        for line in lines
    )
    return InsufficientStock(
        f"Not enough stock for {len(lines)} line(s) ({summary}); nothing was reserved.",
        lines=lines,
    )


def _line_data(order: Order) -> list[dict[str, Any]]:
    return [
        {"product_id": ln.product_id, "quantity": ln.quantity, "unit_price": ln.unit_price}
        for ln in order.lines
    ]


# Built once (every order runs one): the branch, the tenant's currency and an order already
# placed under the external number.
_BRANCH = (
    select(
        Branch,
        Tenant.currency,
        select(Order.id)
        .where(
            Order.tenant_id == bindparam("tenant_id"),
            Order.external_number == bindparam("external_number"),
        )
        .scalar_subquery(),
    )
    .join(Tenant, Tenant.id == Branch.tenant_id)
    .where(Branch.tenant_id == bindparam("tenant_id"))
)
_BRANCH_BY_ID = _BRANCH.where(Branch.id == bindparam("branch"))
_BRANCH_BY_CODE = _BRANCH.where(Branch.code == bindparam("branch"))


def _branch(
    session: Session, *, principal: Principal, data: OrderCreate
) -> tuple[Branch, str, int | None]:
    """Return the fulfilment branch, the tenant's currency and the id of an order already
    placed under this external number (one query for the three; the caller decides when a
    duplicate is refused, so unknown lines are still reported first)."""
    branch, currency, duplicate_id = _branch_row(
        session, principal=principal, data=data, by_id=_BRANCH_BY_ID, by_code=_BRANCH_BY_CODE
    )
    return branch, currency, duplicate_id


def _branch_row(
    session: Session,
    *,
    principal: Principal,
    data: OrderCreate,
    by_id: Select[Any],
    by_code: Select[Any],
    customer: CustomerRef | None = None,
    plain: bool = False,
) -> tuple[Any, ...]:
    """Return the fulfilment branch's row (the branch first) read with by_id or by_code
    (customer: the order's customer reference, for statements that read it too; plain: a
    Core statement of _CONFIGURED_WITH, its branch and customer made namespaces here)."""
    execute = partial(select_plainly, session) if plain else session.execute
    params: dict[str, Any] = {
        "tenant_id": principal.tenant_id,
        "external_number": data.external_number,
    }
    if customer is not None:
        params["customer_id"] = customer.id
        params["email"] = customer.email.lower() if customer.email else None
    row: Any
    if data.branch_id is not None:
        row = execute(by_id, {**params, "branch": data.branch_id}).first()
        what = f"id {data.branch_id}"
    elif data.branch_code is not None:
        row = execute(by_code, {**params, "branch": data.branch_code}).first()
        what = f"code '{data.branch_code}'"
    elif len(principal.branch_ids) == 1:
        only = next(iter(principal.branch_ids))
        row = execute(by_id, {**params, "branch": only}).first()
        what = "of this key"
    else:
        raise ValidationFailed("Say which branch fulfils the order: branch_code or branch_id.")
    if plain and row is not None:
        row = _unpack_plain(tuple(row))
    if row is None or not row[0].active:
        raise ValidationFailed(f"There is no active fulfilment branch with {what}.")
    branch = row[0]
    if not principal.may_use_branch(branch.id):
        raise PermissionDenied(f"This caller may not order from branch {branch.code}.")
    return tuple(row)


def _unpack_plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return a plain branch read's row as _branch_row's: the branch as a namespace of its
    columns first, then the other columns, then the customer as a namespace (or None)."""
    width = len(_BRANCH_COLUMNS)
    branch = SimpleNamespace(**dict(zip(_BRANCH_COLUMNS, row[:width], strict=True)))
    rest = row[width : width + _CONFIGURED_EXTRA]
    named = row[width + _CONFIGURED_EXTRA :]
    if not named:
        return (branch, *rest)
    found = None
    if named[0] is not None:  # the outer join found the customer
        found = SimpleNamespace(**dict(zip(_CUSTOMER_COLUMNS, named, strict=True)))
    return (branch, *rest, found)


def _products(session: Session, *, tenant_id: int, data: OrderCreate) -> list[Product]:
    """Return the product of each line; unknown, archived or badly counted lines are refused."""
    skus = {line.sku for line in data.lines if line.sku is not None}
    ids = {line.product_id for line in data.lines if line.product_id is not None}
    rows = session.scalars(
        select(Product)
        .where(Product.tenant_id == tenant_id, or_(Product.sku.in_(skus), Product.id.in_(ids)))
        # Orders read neither barcodes, category names nor packs: no eager loads for them.
        .options(
            lazyload(Product.barcode_rows),
            lazyload(Product.category),
            lazyload(Product.pack_rows),
        )
    ).all()
    return _matched(list(rows), data)


def _matched(rows: Sequence[Any], data: OrderCreate) -> list[Any]:
    """Return the product of each line among rows; refuse unknown or badly counted lines."""
    by_sku = {p.sku: p for p in rows}
    by_id = {p.id: p for p in rows}
    problems: list[dict[str, Any]] = []
    found: list[Any] = []
    for index, line in enumerate(data.lines):
        product = (
            by_sku.get(line.sku)
            if line.sku is not None
            else by_id.get(line.product_id)
            if line.product_id is not None
            else None  # the schema demands one of the two
        )
        name = line.sku if line.sku is not None else f"product {line.product_id}"
        if product is None or not product.active:
            problems.append({"line": index, "field": "sku", "message": f"unknown {name}"})
            continue
        places = QUANTITY_PLACES.get(Unit(product.unit), 3)
        exponent = line.quantity.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            unit = "whole units" if places == 0 else f"at most {places} decimals"
            problems.append(
                {
                    "line": index,
                    "field": "quantity",
                    "message": f"{product.sku} is sold by {product.unit}: use {unit}",
                }
            )
            continue
        found.append(product)
    if problems:
        raise ValidationFailed(
            "; ".join(f"line {p['line'] + 1}: {p['message']}" for p in problems),
            errors=[
                {"field": f"lines.{p['line']}.{p['field']}", "message": p["message"]}
                for p in problems
            ],
        )
    return found


def _customer(session: Session, *, principal: Principal, ref: CustomerRef) -> Customer | None:
    """Return the customer an order names, or None when an inline one is new."""
    tenant_id = principal.tenant_id
    if ref.id is not None:
        customer = session.get(Customer, ref.id)
        if customer is None or customer.tenant_id != tenant_id or not customer.active:
            raise ValidationFailed(f"There is no customer with id {ref.id}.")
        return customer
    match = None
    if ref.email:
        match = session.scalar(
            _CUSTOMER_BY_EMAIL, {"tenant_id": tenant_id, "email": ref.email.lower()}
        )
    if match is None and ref.phone:
        match = session.scalar(_CUSTOMER_BY_PHONE, {"tenant_id": tenant_id, "phone": ref.phone})
    return match


def _customer_read(
    session: Session, *, principal: Principal, ref: CustomerRef, found: Customer | None
) -> Customer | None:
    """_customer with what the branch read found already (by id, or by e-mail): the same
    answer and refusal; by phone (no e-mail, or no match for it) it is read here."""
    if ref.id is not None:
        if found is None or found.tenant_id != principal.tenant_id or not found.active:
            raise ValidationFailed(f"There is no customer with id {ref.id}.")
        return found
    if found is None and ref.phone:
        found = session.scalar(
            _CUSTOMER_BY_PHONE, {"tenant_id": principal.tenant_id, "phone": ref.phone}
        )
    return found


# Built once: most orders name their customer by e-mail.
_ACTIVE_CUSTOMERS = (
    select(Customer)
    .where(Customer.tenant_id == bindparam("tenant_id"), Customer.active.is_(True))
    .order_by(Customer.id)
    .limit(1)
)
_CUSTOMER_BY_EMAIL = _ACTIVE_CUSTOMERS.where(func.lower(Customer.email) == bindparam("email"))
_CUSTOMER_BY_PHONE = _ACTIVE_CUSTOMERS.where(Customer.phone == bindparam("phone"))


def _customer_key(ref: CustomerRef) -> str:
    """Say how the order names its customer: by id, by e-mail, or only by phone."""
    return "id" if ref.id is not None else "email" if ref.email else "phone"


def _with_customer(statement: Select[Any], key: str) -> Select[Any]:
    """Add the customer the order names (by id, or the first active one with its e-mail) to
    the branch read, as its columns (NULL when there is none); by phone only, nothing."""
    if key == "phone":
        return statement
    if key == "id":
        match = and_(
            Customer.id == bindparam("customer_id"), Customer.tenant_id == bindparam("tenant_id")
        )
    else:
        # Not correlated with the outer read's customers: a read of its own, in the join.
        first = _CUSTOMER_BY_EMAIL.with_only_columns(Customer.id).correlate(None).scalar_subquery()
        match = Customer.id == first
    columns = (_CUSTOMER_TABLE.c[name].label(f"customer_{name}") for name in _CUSTOMER_COLUMNS)
    return statement.add_columns(*columns).outerjoin(Customer, match)


# The branch's and the customer's columns an order reads, named as their attributes.
_BRANCH_TABLE = Branch.__table__
_CUSTOMER_TABLE = Customer.__table__
_BRANCH_COLUMNS = ("id", "tenant_id", "code", "active", "state_code")
_CUSTOMER_COLUMNS = (
    "id",
    "tenant_id",
    "name",
    "email",
    "phone",
    "address",
    "tax_number",
    "price_group",
    "active",
)
_PLAIN_BRANCH = (
    select(
        *(_BRANCH_TABLE.c[name] for name in _BRANCH_COLUMNS),
        Tenant.currency,
        select(Order.id)
        .where(
            Order.tenant_id == bindparam("tenant_id"),
            Order.external_number == bindparam("external_number"),
        )
        .scalar_subquery()
        .label("duplicate"),
    )
    .select_from(_BRANCH_TABLE)
    .join(Tenant, Tenant.id == Branch.tenant_id)
    .where(Branch.tenant_id == bindparam("tenant_id"))
)

# PostgreSQL, the set-based way: the same read also brings what org.get_settings,
# pricing.active_rules and notifications.listens would read (the tenant's stored settings,
# its live pricing rules in id order, the event patterns of its live notification rules for
# the branch), as three more columns: one round trip instead of four. Plain Core columns, no
# ORM entities: the branch (and the customer, below) come back as namespaces of the columns
# an order reads (tests/server/test_order_paths.py compares them with the ORM's).
_CONFIGURED = _PLAIN_BRANCH.add_columns(
    select(func.json_object_agg(TenantSetting.key, TenantSetting.value, type_=JSON))
    .where(TenantSetting.tenant_id == bindparam("tenant_id"), TenantSetting.branch_id.is_(None))
    .scalar_subquery(),
    select(
        func.json_agg(
            aggregate_order_by(
                func.json_build_array(
                    PricingRule.id, PricingRule.rule_type, PricingRule.name, PricingRule.spec
                ),
                PricingRule.id,
            ),
            type_=JSON,
        )
    )
    .where(PricingRule.tenant_id == bindparam("tenant_id"), PricingRule.active.is_(True))
    .scalar_subquery(),
    select(func.array_agg(NotificationRule.event, type_=ARRAY(String)))
    .where(
        NotificationRule.tenant_id == bindparam("tenant_id"),
        NotificationRule.active.is_(True),
        or_(NotificationRule.branch_id.is_(None), NotificationRule.branch_id == Branch.id),
    )
    .scalar_subquery(),
)


# The columns after the branch's: currency, duplicate, settings, rules, rule patterns.
_CONFIGURED_EXTRA = 5
_CONFIGURED_BY_ID = _CONFIGURED.where(Branch.id == bindparam("branch"))
_CONFIGURED_BY_CODE = _CONFIGURED.where(Branch.code == bindparam("branch"))


# PostgreSQL, the set-based way: the branch read above with the order's customer as well
# (by how the order names it), for a branch given by id or by code.
_CONFIGURED_WITH = {
    key: (_with_customer(_CONFIGURED_BY_ID, key), _with_customer(_CONFIGURED_BY_CODE, key))
    for key in ("id", "email", "phone")
}


def _new_customer(session: Session, *, principal: Principal, ref: CustomerRef) -> Customer:
    return partners.create_customer(
        session,
        actor=principal,
        data=CustomerCreate(
            name=ref.name or "",
            email=ref.email,
            phone=ref.phone or "",
            address=ref.address or "",
        ),
    )


def get_order(
    session: Session, *, principal: Principal, order_id: int, lock: bool = False
) -> Order:
    """Return an order of the caller's tenant and branches (locked for a change if asked)."""
    stmt = select(Order).where(Order.id == order_id, Order.tenant_id == principal.tenant_id)
    if lock:
        stmt = lock_for_update(stmt, session).execution_options(populate_existing=True)
    order = session.scalar(stmt)
    if order is None or not principal.may_use_branch(order.branch_id):
        raise NotFound(f"There is no order with id {order_id}.")
    return order
