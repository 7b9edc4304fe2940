"""The stock ledger: every stock change is a movement, and the level moves with it.

How each movement code counts (the ledger invariant in tests/invariants.py checks exactly
this): on_hand is the sum of every movement except ``reservation`` and ``release``;
reserved is the sum of ``reservation`` (+), ``release`` (-) and ``commit`` (-). A
``commit`` therefore lowers both: the reserved units leave the shelf as a sale.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from common.codes import AdjustReason, MovementCode
from common.errors import Conflict, InsufficientStock, NotFound, ValidationFailed
from common.ids import new_id
from common.schemas.base import plain_str
from common.units import format_quantity
from sync_server.audit import service as audit
from sync_server.audit.service import Actor
from sync_server.catalog.models import Product
from sync_server.db import add_append_only, is_sqlite, lock_for_update, utcnow
from sync_server.inventory.lots import LotHints
from sync_server.inventory.lots import follow as follow_lots
from sync_server.inventory.lots import note_batch as note_lots
from sync_server.inventory.models import BranchProductSetting, StockLevel, StockMovement
from sync_server.org.models import Branch
from sync_server.paging import get_owned
from sync_server.sync import feed

log = logging.getLogger(__name__)

ZERO = Decimal("0")
COST_PLACES = Decimal("0.0001")

# Codes that only move the reservation, not the shelf.
RESERVATION_ONLY = frozenset({MovementCode.RESERVATION, MovementCode.RELEASE})
# Codes that move the reservation (commit also moves the shelf).
RESERVATION_CODES = frozenset({MovementCode.RESERVATION, MovementCode.RELEASE, MovementCode.COMMIT})

# The sign each code's quantity must carry (None: either sign).
_SIGN: dict[MovementCode, int | None] = {
    MovementCode.RECEIPT: 1,
    MovementCode.SALE: -1,
    MovementCode.RETURN: 1,
    MovementCode.ADJUSTMENT: None,
    MovementCode.COUNT: None,
    MovementCode.TRANSFER_OUT: -1,
    MovementCode.TRANSFER_IN: 1,
    MovementCode.RESERVATION: 1,
    MovementCode.RELEASE: -1,
    MovementCode.COMMIT: -1,
}


def as_actor(actor: Actor | Any) -> Actor:
    """Accept an audit Actor or anything that carries one (a Principal)."""
    return actor if isinstance(actor, Actor) else actor.actor


def effect(code: MovementCode, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """Return how a movement changes (on_hand, reserved)."""
    if code in RESERVATION_ONLY:
        return ZERO, quantity
    if code == MovementCode.COMMIT:
        return quantity, quantity
    return quantity, ZERO


def stock_data(level: StockLevel) -> dict[str, Any]:
    """Return the feed/API form of a level."""
    return {
        "product_id": level.product_id,
        "on_hand": plain_str(level.on_hand),
        "reserved": plain_str(level.reserved),
        "available": plain_str(level.available),
    }


def _level_query(*, tenant_id: int, branch_id: int, product_id: int):
    return (
        select(StockLevel)
        .where(
            StockLevel.tenant_id == tenant_id,
            StockLevel.branch_id == branch_id,
            StockLevel.product_id == product_id,
        )
        .execution_options(populate_existing=True)
    )


LevelKey = tuple[int, int]
"""A stock level's place in the global lock order: (branch_id, product_id), within a tenant."""


def lock_levels(
    session: Session,
    *,
    tenant_id: int,
    keys: Iterable[LevelKey],
    create: bool = True,
) -> dict[LevelKey, StockLevel]:
    """Lock every stock level a unit of work touches, in one statement, in the global order.

    The order is (branch, product) within the tenant. A unit of work calls this once, with
    every level it will move, before it reads or moves any of them; later calls for the
    same rows (record_movements does one) wait for nothing and read nothing (see
    held_levels). Two writers then queue on the
    first row they share and can never hold one row each while waiting for the other's:
    deadlocks between stock writers cannot happen. Products, customers and suppliers are
    locked around this in their own fixed places (products before levels, accounts after).
    PostgreSQL takes the row locks with SELECT ... FOR UPDATE ORDER BY (rows are locked as
    the sorted scan returns them); SQLite already holds the database's one write lock
    (BEGIN IMMEDIATE), so there the same statement only reads. With ``create`` a missing
    level is inserted (ON CONFLICT DO NOTHING: two first movements may race) and then
    locked; callers pass products they have checked belong to the tenant. Returns the rows.
    """
    ordered = sorted({(int(branch), int(product)) for branch, product in keys})
    if not ordered:
        return {}
    _note_lock_order(session, ordered)
    held = held_levels(session, tenant_id=tenant_id, keys=ordered)
    if held is not None:
        return held
    stmt = _LEVELS if is_sqlite(session.get_bind()) else _LEVELS_FOR_UPDATE
    params = {"tenant_id": tenant_id}
    rows = {
        (row.branch_id, row.product_id): row
        for row in session.scalars(stmt, {**params, "keys": ordered})
    }
    missing = [key for key in ordered if key not in rows]
    if missing and create:
        # A brand-new row is locked by its insert; only a concurrent first movement of the
        # same product can wait on it, and a deadlock there is retried (see sync_server/retry).
        insert = sqlite_insert if is_sqlite(session.get_bind()) else pg_insert
        now = utcnow()
        session.execute(
            insert(StockLevel)
            .values(
                [
                    {
                        "tenant_id": tenant_id,
                        "branch_id": branch_id,
                        "product_id": product_id,
                        "on_hand": ZERO,
                        "reserved": ZERO,
                        "updated_at": now,
                    }
                    for branch_id, product_id in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "branch_id", "product_id"])
        )
        rows.update(
            ((row.branch_id, row.product_id), row)
            for row in session.scalars(stmt, {**params, "keys": missing})
        )
    _hold(session, tenant_id=tenant_id, rows=rows)
    return rows


# session.info key of the one record of the level rows a transaction holds locked:
# (the root transaction, {(tenant, branch, product): (row, the (sub)transaction that locked it)}).
_HELD_LEVELS = "stock_held_levels"


def _open_transactions(session: Session) -> list[Any]:
    """Return the (sub)transactions open now: the innermost savepoint up to the root."""
    current = session.get_nested_transaction() or session.get_transaction()
    found = []
    while current is not None:
        found.append(current)
        current = current.parent
    return found


def held_levels(
    session: Session, *, tenant_id: int, keys: Iterable[LevelKey]
) -> dict[LevelKey, StockLevel] | None:
    """Return the rows lock_levels locked already in this transaction, if it holds them all.

    A row stays held, and current in the session, while the (sub)transaction that locked it
    is open: a batch that locked every level up front (a push) moves them in every
    event's savepoint without reading them again; a row locked inside a savepoint that is
    gone (rolled back, its locks and any row it inserted with it) is read and locked again.
    A rolled-back change to a row still held expires it, so it reloads on its next use.
    """
    record = session.info.get(_HELD_LEVELS)
    if record is None or record[0] is not session.get_transaction():
        return None
    open_now = _open_transactions(session)
    found = {}
    for branch_id, product_id in keys:
        entry = record[1].get((tenant_id, branch_id, product_id))
        if entry is None or not any(entry[1] is txn for txn in open_now):
            return None
        found[(branch_id, product_id)] = entry[0]
    return found


def _hold(session: Session, *, tenant_id: int, rows: dict[LevelKey, StockLevel]) -> None:
    root = session.get_transaction()
    record = session.info.get(_HELD_LEVELS)
    if record is None or record[0] is not root:
        record = (root, {})
        session.info[_HELD_LEVELS] = record
    # The transaction itself, not its id(): a later savepoint could reuse a freed id.
    locker = session.get_nested_transaction() or root
    for (branch_id, product_id), row in rows.items():
        record[1][(tenant_id, branch_id, product_id)] = (row, locker)


def _note_lock_order(session: Session, keys: list[LevelKey]) -> None:
    """Remember what this transaction locked; warn when a path breaks the global order."""
    transaction = session.get_transaction()
    held = session.info.get("stock_locks")
    if held is None or held[0] is not transaction:
        session.info["stock_locks"] = (transaction, set(keys), keys[-1])
        return
    _, seen, top = held
    new = [key for key in keys if key not in seen]
    if new and new[0] < top:
        # Not an error (the database still serialises correctly, and a deadlock is
        # retried), but it means a path did not lock everything up front.
        log.warning("stock levels locked out of order: %s after %s", new, top)
        LOCK_ORDER_WARNINGS.append((tuple(new), top))
    seen.update(new)
    session.info["stock_locks"] = (transaction, seen, max(top, keys[-1]))


# What tests read to prove every path locks up front (kept short: only the latest few).
LOCK_ORDER_WARNINGS: deque[tuple[tuple[LevelKey, ...], LevelKey]] = deque(maxlen=100)


def level(session: Session, *, tenant_id: int, branch_id: int, product_id: int) -> StockLevel:
    """Return a branch's level of a product (zeros, not saved, when it never moved)."""
    row = session.scalar(
        _level_query(tenant_id=tenant_id, branch_id=branch_id, product_id=product_id)
    )
    if row is not None:
        return row
    return StockLevel(
        tenant_id=tenant_id,
        branch_id=branch_id,
        product_id=product_id,
        on_hand=ZERO,
        reserved=ZERO,
    )


def _check_quantity(code: MovementCode, quantity: Decimal) -> None:
    if not quantity.is_finite():
        raise ValidationFailed("A quantity must be a finite number.")
    if quantity == 0 and code != MovementCode.COUNT:
        raise ValidationFailed("A stock movement must move something: the quantity is zero.")
    sign = _SIGN[code]
    if sign is not None and quantity * sign < 0:
        word = "positive" if sign > 0 else "negative"
        raise ValidationFailed(
            f"A '{code}' movement needs a {word} quantity, got {format_quantity(quantity)}."
        )


def shortage(*, product_id: int, requested: Decimal, available: Decimal) -> dict[str, Any]:
    """Return one line of an InsufficientStock problem."""
    return {
        "product_id": product_id,
        "requested": plain_str(requested),
        "available": plain_str(available),
    }


def _facts_statement():
    setting = BranchProductSetting
    tenant_id, branch_id = bindparam("tenant_id"), bindparam("branch_id")
    return (
        select(
            Product.id,
            Product.tenant_id,
            Product.name,
            Product.sku,
            func.coalesce(setting.low_stock_threshold, Product.low_stock_threshold).label(
                "threshold"
            ),
        )
        .select_from(Product)
        .join(Branch, and_(Branch.id == branch_id, Branch.tenant_id == tenant_id))
        .outerjoin(
            setting,
            and_(
                setting.tenant_id == tenant_id,
                setting.branch_id == branch_id,
                setting.product_id == Product.id,
            ),
        )
        .where(
            Product.id.in_(bindparam("product_ids", expanding=True)),
            Product.tenant_id == tenant_id,
        )
    )


# Built once: building a statement costs more than running it from the compiled cache.
_FACTS = _facts_statement()


def _facts(
    session: Session, *, tenant_id: int, branch_id: int, product_ids: list[int]
) -> dict[int, Any]:
    """Return what movements need of their products, with the branch's threshold, in one query.

    Loading the Product entity costs more (eager category, barcodes) than the rest of a
    movement; this runs on every one, so it reads plain columns. A product missing from the
    answer is not the caller's, or the branch is not. A batch (prepare_batch) read them all
    once: its documents then ask nothing here.
    """
    ids = sorted(set(product_ids))
    noted = session.info.get(_BATCH_FACTS)
    if noted is not None and noted[0] is session.get_transaction():
        known = noted[2] if noted[1] == (tenant_id, branch_id) else {}
        if all(product_id in known for product_id in ids):
            return {product_id: known[product_id] for product_id in ids}
    rows = session.execute(
        _FACTS, {"tenant_id": tenant_id, "branch_id": branch_id, "product_ids": ids}
    ).all()
    return {row.id: row for row in rows}


# session.info key: (root transaction, (tenant id, branch id), {product id: facts row}).
_BATCH_FACTS = "stock_batch_facts"


def prepare_batch(
    session: Session, *, tenant_id: int, branch_id: int, product_ids: Iterable[int]
) -> None:
    """Lock, and read once, what a batch of documents of one branch will move (a push).

    Locks the levels that exist in the global order (the batch holds them to its commit,
    so each document's record_movements reads nothing again: see held_levels); reads the
    products' facts and which of them have lots, so no document of the batch queries them.
    A level that does not exist yet is made by the first movement of its product.
    """
    ids = sorted({int(product_id) for product_id in product_ids})
    lock_levels(
        session,
        tenant_id=tenant_id,
        keys=[(branch_id, product_id) for product_id in ids],
        create=False,
    )
    if not ids:
        return
    facts = session.execute(
        _FACTS, {"tenant_id": tenant_id, "branch_id": branch_id, "product_ids": ids}
    ).all()
    session.info[_BATCH_FACTS] = (
        session.get_transaction(),
        (tenant_id, branch_id),
        {row.id: row for row in facts},
    )
    note_lots(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=ids)


def _not_found(session: Session, *, tenant_id: int, branch_id: int, product_id: int) -> None:
    """Raise NotFound saying precisely which of the product and the branch is not the caller's."""
    get_owned(session, Product, id=product_id, tenant_id=tenant_id, what="product")
    get_owned(session, Branch, id=branch_id, tenant_id=tenant_id, what="branch")


# SQLite holds the write lock already (BEGIN IMMEDIATE); PostgreSQL locks in key order.
_LEVELS = (
    select(StockLevel)
    .where(
        StockLevel.tenant_id == bindparam("tenant_id"),
        tuple_(StockLevel.branch_id, StockLevel.product_id).in_(bindparam("keys", expanding=True)),
    )
    .order_by(StockLevel.branch_id, StockLevel.product_id)
    .execution_options(populate_existing=True)
)
# FOR NO KEY UPDATE: what an UPDATE of non-key columns takes anyway. Plain FOR UPDATE would
# also block the key-share locks that inserts referencing the row take for their foreign
# keys, turning every such insert into one more lock to order.
_LEVELS_FOR_UPDATE = _LEVELS.with_for_update(key_share=True)


class MovementLine(NamedTuple):
    """One movement of a batch: what moves, how, and by how much."""

    product_id: int
    code: MovementCode
    quantity: Decimal
    unit_cost: Decimal | None = None
    reason: str | None = None


def record_movement(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    code: MovementCode,
    quantity: Decimal,
    unit_cost: Decimal | None = None,
    reference_type: str,
    reference_id: str,
    reason: str | None = None,
    occurred_at: datetime | None = None,
    allow_negative: bool = False,
    lots: LotHints | None = None,
) -> StockMovement:
    """Append one movement and move the level with it, in the caller's transaction."""
    [movement] = record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[MovementLine(product_id, code, quantity, unit_cost, reason)],
        reference_type=reference_type,
        reference_id=reference_id,
        occurred_at=occurred_at,
        allow_negative=allow_negative,
        lots=lots,
    )
    # Single movements come from workflows that read what they wrote right away.
    session.flush()
    return movement


def record_movements(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[MovementLine],
    reference_type: str,
    reference_id: str,
    occurred_at: datetime | None = None,
    allow_negative: bool = False,
    lots: LotHints | None = None,
) -> list[StockMovement]:
    """Append one movement per line (distinct products) and move the levels with them.

    Stores exactly what record_movement would, line after line, with one query each for
    the products, the levels and the live alerts, and no flush of its own: the rows go out
    with the caller's next flush or commit. Any refused line refuses the batch (the
    caller's transaction or savepoint drops what was added).
    """
    actor = as_actor(actor)
    tenant_id = actor.tenant_id
    lines = [
        MovementLine(
            int(line.product_id), MovementCode(line.code), Decimal(line.quantity), *line[3:]
        )
        for line in lines
    ]
    product_ids = [line.product_id for line in lines]
    if len(set(product_ids)) != len(product_ids):
        raise ValueError("record_movements takes each product once; merge the lines first.")
    facts = _facts(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=product_ids)
    for line in lines:
        _check_quantity(line.code, line.quantity)
        if line.product_id not in facts:
            _not_found(
                session, tenant_id=tenant_id, branch_id=branch_id, product_id=line.product_id
            )
    # Locked here in the global order; a unit of work of several steps locked them all
    # already, before its first step, and this waits for nothing.
    keys = [(branch_id, product_id) for product_id in product_ids]
    locked = lock_levels(session, tenant_id=tenant_id, keys=keys)
    levels = {product_id: locked[(branch_id, product_id)] for product_id in product_ids}
    now = utcnow()
    movements: list[StockMovement] = []
    states: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for line in lines:
        row = levels[line.product_id]
        before = stock_data(row)
        on_hand, reserved = _moved(
            row, line=line, product=facts[line.product_id], allow_negative=allow_negative
        )
        movement = StockMovement(
            uuid=new_id(),
            tenant_id=tenant_id,
            branch_id=branch_id,
            product_id=line.product_id,
            code=line.code.value,
            quantity=line.quantity,
            unit_cost=line.unit_cost,
            reason=line.reason,
            reference_type=reference_type,
            reference_id=str(reference_id),
            actor_id=actor.user_id,
            actor=actor.label,
            device_id=actor.device_id,
            occurred_at=occurred_at or now,
            recorded_at=now,
        )
        # Append-only and never read back by id in the unit of work: in a push's batch the
        # movements go out with its audit entries and feed changes, one insert per table.
        add_append_only(session, movement)
        row.on_hand, row.reserved, row.updated_at = on_hand, reserved, now
        movements.append(movement)
        states.append((before, stock_data(row)))
    # Split the movements over the products' lots (FEFO unless lots are named).
    follow_lots(
        session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        movements=movements,
        levels=levels,
        hints=lots,
    )
    changed_alerts = _evaluate_alerts_many(
        session,
        items=[
            (facts[line.product_id], levels[line.product_id], facts[line.product_id].threshold)
            for line in lines
        ],
    )
    for line, movement, (before, after), changes in zip(
        lines, movements, states, changed_alerts, strict=True
    ):
        # The level row is locked since lock_levels: its change needs no flush first.
        feed.publish_locked(
            session,
            tenant_id=tenant_id,
            entity="stock",
            key=line.product_id,
            branch_id=branch_id,
            data=after,
        )
        _announce_alerts(session, changes)
        audit.record(
            session,
            actor=actor,
            action=f"stock.{line.code.value}",
            entity_type="stock_movement",
            entity_id=movement.uuid,
            before={"branch_id": branch_id, **before},
            after={
                "branch_id": branch_id,
                **after,
                "quantity": str(line.quantity),
                "reason": line.reason,
                "reference": f"{reference_type}:{reference_id}",
            },
        )
    return movements


def _moved(
    row: StockLevel, *, line: MovementLine, product: Any, allow_negative: bool
) -> tuple[Decimal, Decimal]:
    """Return the level's (on_hand, reserved) after the line, or refuse the line."""
    d_on_hand, d_reserved = effect(line.code, line.quantity)
    on_hand, reserved = row.on_hand + d_on_hand, row.reserved + d_reserved
    if reserved < 0:
        raise Conflict(
            f"Cannot take {format_quantity(-d_reserved)} out of the reservation of product "
            f"{line.product_id}: only {format_quantity(row.reserved)} is reserved."
        )
    # A commit hands over units that were already set aside, so only the shelf can stop
    # it; anything else taking stock may not dip into what others have reserved.
    short = on_hand < 0 if line.code == MovementCode.COMMIT else on_hand - reserved < 0
    takes = d_on_hand < 0 or d_reserved > 0
    if takes and short and not allow_negative:
        requested = -d_on_hand if d_on_hand < 0 else d_reserved
        raise InsufficientStock(
            f"Not enough stock of '{product.name}' in this branch: "
            f"{format_quantity(requested)} requested, {format_quantity(row.available)} available.",
            lines=[
                shortage(product_id=line.product_id, requested=requested, available=row.available)
            ],
        )
    return on_hand, reserved


def _evaluate_alerts(
    session: Session, *, product: Any, level: StockLevel, limit: Decimal | None = None
) -> list:
    """Open or clear the level's stock alerts; return the changes to announce."""
    from sync_server.alerts import service as alerts

    return alerts.evaluate_stock(session, product=product, level=level, limit=limit)


def _evaluate_alerts_many(session: Session, *, items: list) -> list[list]:
    from sync_server.alerts import service as alerts

    return alerts.evaluate_stock_many(session, items=items)


def _announce_alerts(session: Session, changes: list) -> None:
    from sync_server.alerts import service as alerts

    alerts.announce(session, changes)


def receive(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    quantity: Decimal,
    unit_cost: Decimal,
    reference_type: str,
    reference_id: str,
) -> StockMovement:
    """Receive goods into a branch and fold their cost into the moving-average cost."""
    actor = as_actor(actor)
    unit_cost = Decimal(unit_cost)
    if not unit_cost.is_finite() or unit_cost < 0:
        raise ValidationFailed("A unit cost must be zero or more.")
    # Lock the product: receipts of it in two branches must not both read the old cost.
    locked = session.scalar(
        lock_for_update(
            select(Product.id).where(
                Product.id == product_id, Product.tenant_id == actor.tenant_id
            ),
            session,
        )
    )
    if locked is None:
        raise NotFound(f"There is no product with id {product_id}.")
    product = session.get(Product, product_id, populate_existing=True)
    # The average is weighted by what the whole business holds (every branch), because
    # Product.cost is one figure per product. Stock below zero counts as none: it was sold
    # before it arrived, so it carries no old cost into the average.
    held = session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
            StockLevel.tenant_id == actor.tenant_id,
            StockLevel.product_id == product_id,
            StockLevel.on_hand > 0,
        )
    )
    held = Decimal(held)
    movement = record_movement(
        session,
        actor=actor,
        branch_id=branch_id,
        product_id=product_id,
        code=MovementCode.RECEIPT,
        quantity=quantity,
        unit_cost=unit_cost,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    old_cost = product.cost
    quantity = Decimal(quantity)
    new_cost = (held * old_cost + quantity * unit_cost) / (held + quantity)
    new_cost = new_cost.quantize(COST_PLACES, rounding=ROUND_HALF_UP)
    if new_cost != old_cost:
        product.cost = new_cost
        audit.record(
            session,
            actor=actor,
            action="product.cost",
            entity_type="product",
            entity_id=product_id,
            before={"cost": old_cost},
            after={"cost": new_cost, "receipt": movement.uuid},
        )
    return movement


def lock_products(session: Session, *, tenant_id: int, product_ids: Iterable[int]) -> None:
    """Lock products (their moving-average cost) in id order, in one statement.

    Receiving locks products before their levels; every receipt of several products takes
    them all here first so two receipts listing them in different orders never deadlock.
    """
    ids = sorted({int(product_id) for product_id in product_ids})
    if ids and not is_sqlite(session.get_bind()):
        session.execute(
            select(Product.id)
            .where(Product.tenant_id == tenant_id, Product.id.in_(ids))
            .order_by(Product.id)
            # NO KEY: a movement, order line or sale line inserted for the product takes a
            # key-share lock on it (its foreign key); FOR UPDATE would make every writer
            # that holds a level wait here, and a receipt that holds this wait for levels.
            .with_for_update(key_share=True)
        ).all()


def receive_lines(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal, Decimal]],
    reference_type: str,
    reference_id: str,
) -> list[StockMovement]:
    """Receive several (product, quantity, unit cost) lines: products, then levels, locked first."""
    actor = as_actor(actor)
    lock_products(session, tenant_id=actor.tenant_id, product_ids=[p for p, _, _ in lines])
    owned = set(
        session.scalars(
            select(Product.id).where(
                Product.tenant_id == actor.tenant_id,
                Product.id.in_({int(p) for p, _, _ in lines}),
            )
        )
    )
    lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, int(p)) for p, _, _ in lines if int(p) in owned],
    )
    return [
        receive(
            session,
            actor=actor,
            branch_id=branch_id,
            product_id=product_id,
            quantity=quantity,
            unit_cost=unit_cost,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        for product_id, quantity, unit_cost in lines
    ]


def _merged(lines: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Sum repeated products and sort by product id (a fixed lock order avoids deadlocks)."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for product_id, quantity in lines:
        quantity = Decimal(quantity)
        if not quantity.is_finite() or quantity <= 0:
            raise ValidationFailed(f"Quantities must be positive (product {product_id}).")
        totals[int(product_id)] += quantity
    if not totals:
        raise ValidationFailed("Give at least one line.")
    return sorted(totals.items())


def reserve(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Set stock aside for a document: every line or none (InsufficientStock lists the short)."""
    actor = as_actor(actor)
    merged = _merged(lines)
    short = []
    for product_id, _ in merged:
        get_owned(session, Product, id=product_id, tenant_id=actor.tenant_id, what="product")
    rows = lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, product_id) for product_id, _ in merged],
    )
    for product_id, quantity in merged:
        row = rows[(branch_id, product_id)]
        if row.available < quantity:
            short.append(
                shortage(product_id=product_id, requested=quantity, available=row.available)
            )
    if short:
        raise InsufficientStock(
            f"Not enough stock to reserve {len(short)} of {len(merged)} line(s); "
            "nothing was reserved.",
            lines=short,
        )
    record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[
            MovementLine(product_id, MovementCode.RESERVATION, quantity)
            for product_id, quantity in merged
        ],
        reference_type=reference_type,
        reference_id=reference_id,
    )
    session.flush()


def open_reservation(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    product_id: int,
    reference_type: str,
    reference_id: str,
) -> Decimal:
    """Return what a document still holds reserved of a product in a branch."""
    total = session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.tenant_id == tenant_id,
            StockMovement.branch_id == branch_id,
            StockMovement.product_id == product_id,
            StockMovement.reference_type == reference_type,
            StockMovement.reference_id == str(reference_id),
            StockMovement.code.in_([code.value for code in RESERVATION_CODES]),
        )
    )
    return Decimal(total)


def _settle(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
    code: MovementCode,
) -> None:
    actor = as_actor(actor)
    merged = _merged(lines)
    lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, product_id) for product_id, _ in merged],
    )
    for product_id, quantity in merged:
        held = open_reservation(
            session,
            tenant_id=actor.tenant_id,
            branch_id=branch_id,
            product_id=product_id,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        if held < quantity:
            raise Conflict(
                f"{reference_type} {reference_id} holds {format_quantity(held)} of product "
                f"{product_id} reserved; cannot {code.value} {format_quantity(quantity)}."
            )
    record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[MovementLine(product_id, code, -quantity) for product_id, quantity in merged],
        reference_type=reference_type,
        reference_id=reference_id,
    )
    session.flush()


def release(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Give back stock a document had reserved (no more than it holds)."""
    _settle(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=lines,
        reference_type=reference_type,
        reference_id=reference_id,
        code=MovementCode.RELEASE,
    )


def commit_reservation(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Turn reserved stock into a sale: one ``commit`` movement lowers reserved and on_hand."""
    _settle(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=lines,
        reference_type=reference_type,
        reference_id=reference_id,
        code=MovementCode.COMMIT,
    )


def adjust(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    quantity: Decimal,
    reason: AdjustReason | str,
    reference_type: str = "adjustment",
    reference_id: str | None = None,
) -> StockMovement:
    """Record a manual adjustment with a reason; refuse to go below zero."""
    try:
        reason = AdjustReason(reason)
    except ValueError as exc:
        raise ValidationFailed(
            f"Unknown reason '{reason}'; use one of {', '.join(r.value for r in AdjustReason)}."
        ) from exc
    return record_movement(
        session,
        actor=actor,
        branch_id=branch_id,
        product_id=product_id,
        code=MovementCode.ADJUSTMENT,
        quantity=quantity,
        reason=reason.value,
        reference_type=reference_type,
        reference_id=reference_id or new_id(),
    )


def valuation(session: Session, *, tenant_id: int, branch_id: int | None = None) -> dict[str, Any]:
    """Value the stock on hand at moving-average cost, per product and in total."""
    on_hand = func.sum(StockLevel.on_hand)
    stmt = (
        select(Product.id, Product.sku, Product.name, Product.cost, on_hand)
        .join(StockLevel, StockLevel.product_id == Product.id)
        .where(StockLevel.tenant_id == tenant_id, Product.tenant_id == tenant_id)
        .group_by(Product.id, Product.sku, Product.name, Product.cost)
        .order_by(Product.name, Product.id)
    )
    if branch_id is not None:
        stmt = stmt.where(StockLevel.branch_id == branch_id)
    items = []
    total = ZERO
    for product_id, sku, name, cost, quantity in session.execute(stmt):
        quantity = Decimal(quantity)
        cost = Decimal(cost)
        value = (quantity * cost).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
        total += value
        items.append(
            {
                "product_id": product_id,
                "sku": sku,
                "name": name,
                "on_hand": quantity,
                "unit_cost": cost,
                "value": value,
            }
        )
    return {"branch_id": branch_id, "total_value": total, "items": items}


def demo_opening_stock(
    session: Session, *, actor: Actor | Any, branches: list[Branch], products: list[Product]
) -> int:
    """Receive realistic opening stock; leave a few products low or out in the first branch."""
    actor = as_actor(actor)
    count = 0
    for b_index, branch in enumerate(branches):
        for p_index, product in enumerate(products):
            if session.scalar(
                select(StockMovement.id).where(
                    StockMovement.tenant_id == actor.tenant_id,
                    StockMovement.branch_id == branch.id,
                    StockMovement.product_id == product.id,
                )
            ):
                continue  # already stocked: loading the demo twice changes nothing
            threshold = product.low_stock_threshold or Decimal("5")
            quantity = Decimal(30 + (p_index * 7 + b_index * 11) % 90)
            if b_index == 0 and p_index in (0, 1, 2):
                # One out of stock, two running low: the alerts screen has something to show.
                quantity = threshold + 5 if p_index == 0 else max(threshold - 2, Decimal("1"))
            cost = product.cost if product.cost > 0 else (product.price * Decimal("0.7"))
            receive(
                session,
                actor=actor,
                branch_id=branch.id,
                product_id=product.id,
                quantity=quantity,
                unit_cost=cost.quantize(COST_PLACES),
                reference_type="opening",
                reference_id=f"demo-{branch.code}",
            )
            count += 1
            if b_index == 0 and p_index == 0:
                adjust(
                    session,
                    actor=actor,
                    branch_id=branch.id,
                    product_id=product.id,
                    quantity=-quantity,
                    reason=AdjustReason.DAMAGE,
                    reference_type="opening",
                    reference_id=f"demo-{branch.code}",
                )
    return count


def set_thresholds(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    low_stock_threshold: Decimal | None,
    reorder_quantity: Decimal | None,
) -> dict[str, Any]:
    """Set a branch's own threshold and reorder quantity for a product (None: the default)."""
    actor = as_actor(actor)
    product = get_owned(session, Product, id=product_id, tenant_id=actor.tenant_id, what="product")
    get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    row = session.scalar(
        select(BranchProductSetting).where(
            BranchProductSetting.tenant_id == actor.tenant_id,
            BranchProductSetting.branch_id == branch_id,
            BranchProductSetting.product_id == product_id,
        )
    )
    before = None
    if row is None:
        row = BranchProductSetting(
            tenant_id=actor.tenant_id, branch_id=branch_id, product_id=product_id
        )
        session.add(row)
    else:
        before = {
            "low_stock_threshold": row.low_stock_threshold,
            "reorder_quantity": row.reorder_quantity,
        }
    row.low_stock_threshold = low_stock_threshold
    row.reorder_quantity = reorder_quantity
    row.updated_at = utcnow()
    session.flush()
    # A new threshold may put the level below it (or lift it above): re-judge the alerts.
    current = session.scalar(
        _level_query(tenant_id=actor.tenant_id, branch_id=branch_id, product_id=product_id)
    )
    if current is not None:
        _announce_alerts(session, _evaluate_alerts(session, product=product, level=current))
    audit.record(
        session,
        actor=actor,
        action="stock.thresholds",
        entity_type="product",
        entity_id=product_id,
        before=before,
        after={
            "branch_id": branch_id,
            "low_stock_threshold": low_stock_threshold,
            "reorder_quantity": reorder_quantity,
        },
    )
    from sync_server.alerts.service import threshold

    return {
        "branch_id": branch_id,
        "product_id": product_id,
        "low_stock_threshold": low_stock_threshold,
        "reorder_quantity": reorder_quantity,
        "effective_threshold": threshold(session, product=product, branch_id=branch_id),
    }
