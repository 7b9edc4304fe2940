"""Physical stock counts: open, scan what is on the shelf, review the differences, post."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import InvalidState, NotFound, ValidationFailed
from sync_server.audit import service as audit
from sync_server.catalog import service as catalog
from sync_server.catalog.models import Category, Product
from sync_server.db import utcnow
from sync_server.foundation.principal import Actor
from sync_server.inventory import lot_counts
from sync_server.inventory.costing import COST_PLACES
from sync_server.inventory.ledger import ZERO, level, lock_levels, record_movement
from sync_server.inventory.models import StockCount, StockCountLine, StockLevel
from sync_server.lookups import get_owned
from sync_server.org.models import Branch

REFERENCE = "count"

# FOR NO KEY UPDATE on PostgreSQL (see sync_server.db.lock_for_update); SQLite ignores it.
_NO_KEY = {"key_share": True}


def get_count(session: Session, *, tenant_id: int, count_id: int, lock: bool = False) -> StockCount:
    """Return a count of the tenant (locked for this transaction when asked)."""
    count = session.get(
        StockCount, count_id, with_for_update=_NO_KEY if lock else None, populate_existing=lock
    )
    if count is None or count.tenant_id != tenant_id:
        raise NotFound(f"There is no stock count with id {count_id}.")
    return count


def open_count(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    category_id: int | None = None,
    note: str = "",
) -> StockCount:
    """Open a count of a branch, or of one category in it."""
    get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    if category_id is not None:
        get_owned(session, Category, id=category_id, tenant_id=actor.tenant_id, what="category")
    count = StockCount(
        tenant_id=actor.tenant_id,
        branch_id=branch_id,
        category_id=category_id,
        status="open",
        note=note,
        created_by=actor.user_id,
    )
    session.add(count)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="count.open",
        entity_type="stock_count",
        entity_id=count.id,
        after={"branch_id": branch_id, "category_id": category_id},
    )
    return count


def add_line(
    session: Session,
    *,
    actor: Actor,
    count_id: int,
    quantity: Decimal | None,
    barcode: str | None = None,
    product_id: int | None = None,
    replace: bool = False,
    lot_number: str | None = None,
) -> StockCountLine:
    """Add what was found of a product (by scan or id); replace sets it instead."""
    count = get_count(session, tenant_id=actor.tenant_id, count_id=count_id, lock=True)
    if count.status != "open":
        raise InvalidState(f"Count {count_id} is {count.status}; it takes no more lines.")
    if barcode is not None:
        found = catalog.find_by_barcode(session, tenant_id=actor.tenant_id, code=barcode)
        product = found["product"]
        # A scale label carries the weight: it is the quantity unless one was typed.
        quantity = quantity if quantity is not None else found.get("quantity")
    elif product_id is not None:
        product = get_owned(
            session, Product, id=product_id, tenant_id=actor.tenant_id, what="product"
        )
    else:
        raise ValidationFailed("Give a barcode or a product id.")
    quantity = Decimal("1") if quantity is None else Decimal(quantity)
    if quantity < 0:
        raise ValidationFailed("A counted quantity cannot be negative.")
    if count.category_id is not None and product.category_id != count.category_id:
        raise ValidationFailed(f"'{product.name}' is not in the category this count covers.")
    if lot_number is not None:
        # The lot is counted; the product's line grows by what the lot's count changed.
        quantity = lot_counts.add_lot(
            session,
            count=count,
            product_id=product.id,
            lot_number=lot_number,
            quantity=quantity,
            replace=replace,
        )
        replace = False
    line = next((row for row in count.lines if row.product_id == product.id), None)
    if line is None:
        line = StockCountLine(tenant_id=actor.tenant_id, product_id=product.id, counted=quantity)
        count.lines.append(line)
    else:
        line.counted = quantity if replace else line.counted + quantity
    session.flush()
    return line


def remove_line(session: Session, *, actor: Actor, count_id: int, product_id: int) -> None:
    """Take a product off an open count, as if it had never been counted (undo)."""
    count = get_count(session, tenant_id=actor.tenant_id, count_id=count_id, lock=True)
    if count.status != "open":
        raise InvalidState(f"Count {count_id} is {count.status}; its lines are final.")
    line = next((row for row in count.lines if row.product_id == product_id), None)
    if line is None:
        raise NotFound(f"Product {product_id} is not on count {count_id}.")
    count.lines.remove(line)
    lot_counts.forget(session, count=count, product_id=product_id)
    session.flush()


def _scope_words(session: Session, count: StockCount) -> str:
    branch = session.get(Branch, count.branch_id)
    where = branch.name if branch is not None else f"branch {count.branch_id}"
    if count.category_id is None:
        return f"{where}, all categories"
    category = session.get(Category, count.category_id)
    return f"{where}, category {category.name if category is not None else count.category_id}"


def _check_zero_scope(session: Session, count: StockCount) -> None:
    """Refuse to zero what was not counted when the count's scope is not clear-cut.

    An empty count would zero the whole scope unseen; another open count with lines at the same
    branch over an overlapping scope means part of it may be being counted right now.
    """
    if not count.lines:
        raise ValidationFailed(
            "Nothing was counted, so 'set uncounted items to zero' would empty "
            f"{_scope_words(session, count)} unseen: count what is on the shelves first."
        )
    others = session.scalars(
        select(StockCount)
        .where(
            StockCount.tenant_id == count.tenant_id,
            StockCount.branch_id == count.branch_id,
            StockCount.status == "open",
            StockCount.id != count.id,
        )
        .order_by(StockCount.id)
    ).all()
    for other in others:
        overlaps = (
            other.category_id is None
            or count.category_id is None
            or other.category_id == count.category_id
        )
        if overlaps and other.lines:
            raise InvalidState(
                f"The scope to zero is unclear: count {other.id} "
                f"({_scope_words(session, other)}) is still open with {len(other.lines)} "
                "line(s), so products it covers may be on its sheet rather than this one. "
                "Post that count first, or post this one without zeroing uncounted items."
            )


def _uncounted(session: Session, count: StockCount) -> list[StockLevel]:
    """Return the scope's levels that are not zero and that this count has no line for."""
    query = select(StockLevel).where(
        StockLevel.tenant_id == count.tenant_id,
        StockLevel.branch_id == count.branch_id,
        StockLevel.on_hand != 0,
    )
    if count.category_id is not None:
        query = query.join(Product, Product.id == StockLevel.product_id).where(
            Product.category_id == count.category_id
        )
    counted = {line.product_id for line in count.lines}
    rows = session.scalars(query.order_by(StockLevel.product_id)).all()
    return [row for row in rows if row.product_id not in counted]


def _line(product: Product, *, counted: Decimal, expected: Decimal) -> dict[str, Any]:
    difference = counted - expected
    return {
        "product_id": product.id,
        "sku": product.sku,
        "name": product.name,
        "counted": counted,
        "expected": expected,
        "difference": difference,
        "unit_cost": product.cost,
        "value": (difference * product.cost).quantize(COST_PLACES, rounding=ROUND_HALF_UP),
    }


def review_uncounted(session: Session, *, tenant_id: int, count_id: int) -> dict[str, Any]:
    """Say what 'set uncounted items to zero' would change: the scope and a line per product.

    Raises the same refusal posting would when the scope is unclear.
    """
    count = get_count(session, tenant_id=tenant_id, count_id=count_id)
    if count.status != "open":
        raise InvalidState(f"Count {count_id} is {count.status}; it was posted already.")
    _check_zero_scope(session, count)
    lines = [
        _line(session.get_one(Product, row.product_id), counted=ZERO, expected=row.on_hand)
        for row in _uncounted(session, count)
    ]
    return {
        "scope": _scope_words(session, count),
        "lines": lines,
        "difference_value": sum((line["value"] for line in lines), ZERO),
    }


def review(session: Session, *, tenant_id: int, count_id: int) -> dict[str, Any]:
    """Return the count with each line's expected quantity, difference and its value."""
    count = get_count(session, tenant_id=tenant_id, count_id=count_id)
    lines = []
    total = ZERO
    for line in count.lines:
        product = session.get_one(Product, line.product_id)
        expected = line.expected
        if expected is None:
            expected = level(
                session, tenant_id=tenant_id, branch_id=count.branch_id, product_id=line.product_id
            ).on_hand
        difference = line.counted - expected
        value = (difference * product.cost).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
        total += value
        lines.append(
            {
                "product_id": line.product_id,
                "sku": product.sku,
                "name": product.name,
                "counted": line.counted,
                "expected": expected,
                "difference": difference,
                "unit_cost": product.cost,
                "value": value,
            }
        )
    return {
        "id": count.id,
        "branch_id": count.branch_id,
        "category_id": count.category_id,
        "status": count.status,
        "note": count.note,
        "created_at": count.created_at,
        "posted_at": count.posted_at,
        "lines": lines,
        "difference_value": total,
    }


def post_count(
    session: Session, *, actor: Actor, count_id: int, zero_uncounted: bool = False
) -> StockCount:
    """Set each counted product to what was found, with one count movement per difference.

    Products of the branch that nobody counted keep their level (an unscanned shelf is more
    often a skipped shelf than an empty one) unless ``zero_uncounted`` is asked: then every
    product of the count's scope (its branch, and its category if it has one) with stock and
    no line gets a line counted at zero and a count movement to zero, in the same transaction.
    """
    count = get_count(session, tenant_id=actor.tenant_id, count_id=count_id, lock=True)
    if count.status != "open":
        raise InvalidState(f"Count {count_id} is {count.status}; it was posted already.")
    if not count.lines:
        raise ValidationFailed("Nothing was counted; add lines before posting.")
    uncounted: list[int] = []
    if zero_uncounted:
        _check_zero_scope(session, count)
        uncounted = [row.product_id for row in _uncounted(session, count)]
    differences = {}
    by_lot = lot_counts.counted_products(session, count=count)
    movements = {}
    levels = lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(count.branch_id, line.product_id) for line in count.lines]
        + [(count.branch_id, product_id) for product_id in uncounted],
    )
    for line in sorted(count.lines, key=lambda row: row.product_id):
        current = levels[(count.branch_id, line.product_id)]
        line.expected = current.on_hand
        difference = line.counted - current.on_hand
        if difference != 0:
            # What is on the shelf is a fact, even when orders hold more than was found.
            movements[line.product_id] = record_movement(
                session,
                actor=actor,
                branch_id=count.branch_id,
                product_id=line.product_id,
                code=MovementCode.COUNT,
                quantity=difference,
                reference_type=REFERENCE,
                reference_id=str(count.id),
                allow_negative=True,
                # Counted by lot: the lots are set to what was found, not split FEFO.
                lots={line.product_id: []} if line.product_id in by_lot else None,
            )
            differences[line.product_id] = difference
    lot_counts.post_lots(session, count=count, movements=movements)
    zeroed = {}
    for product_id in uncounted:
        current = levels[(count.branch_id, product_id)]
        if current.on_hand == 0:
            continue  # sold down to zero since the scope was read
        count.lines.append(
            StockCountLine(
                tenant_id=actor.tenant_id,
                product_id=product_id,
                counted=ZERO,
                expected=current.on_hand,
            )
        )
        zeroed[product_id] = -current.on_hand
        record_movement(
            session,
            actor=actor,
            branch_id=count.branch_id,
            product_id=product_id,
            code=MovementCode.COUNT,
            quantity=-current.on_hand,
            reference_type=REFERENCE,
            reference_id=str(count.id),
            reason="not counted: set to zero",
            allow_negative=True,
        )
    count.status = "posted"
    count.posted_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="count.post",
        entity_type="stock_count",
        entity_id=count.id,
        before={"status": "open"},
        after={
            "status": "posted",
            "differences": {str(k): v for k, v in differences.items()},
            **(
                {"zeroed_uncounted": {str(k): v for k, v in zeroed.items()}}
                if zero_uncounted
                else {}
            ),
        },
    )
    return count
