"""The stock ledger: every stock change is a movement, and the level moves with it.

How each movement code counts (the ledger invariant in tests/invariants.py checks exactly
this): on_hand is the sum of every movement except ``reservation`` and ``release``;
reserved is the sum of ``reservation`` (+), ``release`` (-) and ``commit`` (-). A
``commit`` therefore lowers both: the reserved units leave the shelf as a sale.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    Boolean,
    Select,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from common.codes import AdjustReason, MovementCode
from common.errors import Conflict, InsufficientStock, ValidationFailed
from common.ids import new_id
from common.schemas.base import plain_str
from common.units import format_quantity
from sync_server import events
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import AnySelect, add_append_only, is_sqlite, utcnow
from sync_server.domains import load_receivers
from sync_server.foundation import feed
from sync_server.foundation.principal import Actor
from sync_server.inventory.events import LevelChange, StockChanged
from sync_server.inventory.lots import LotHints
from sync_server.inventory.lots import follow as follow_lots
from sync_server.inventory.lots import note_batch as note_lots
from sync_server.inventory.lots import note_batch_found as note_lots_found
from sync_server.inventory.lots import products_with_lots_at as lots_at
from sync_server.inventory.models import BranchProductSetting, StockLevel, StockMovement
from sync_server.lookups import get_owned
from sync_server.org.models import Branch

log = logging.getLogger(__name__)

ZERO = Decimal("0")

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


def _level_query(*, tenant_id: int, branch_id: int, product_id: int) -> Select[StockLevel]:
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
    with_companions: bool = False,
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
    if with_companions and stmt is _LEVELS_FOR_UPDATE and _companions():
        rows = _lock_with_companions(session, tenant_id=tenant_id, keys=ordered)
    else:
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
_HeldRecord = tuple[
    SessionTransaction | None,
    dict[tuple[int, int, int], tuple[StockLevel, SessionTransaction | None]],
]


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
    record: _HeldRecord | None = session.info.get(_HELD_LEVELS)
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


def _facts_statement() -> AnySelect:
    setting = BranchProductSetting
    tenant_id: BindParameter[int] = bindparam("tenant_id")
    branch_id: BindParameter[int] = bindparam("branch_id")
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
# A batch's facts, with whether each product has lots at the branch (one query for both).
_FACTS_AND_LOTS = _FACTS.add_columns(
    lots_at(bindparam("tenant_id"), bindparam("branch_id"), Product.id).label("has_lots")
)


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


class Facts(NamedTuple):
    """What movements need of a product (a row of _FACTS): threshold is the branch's."""

    id: int
    tenant_id: int
    name: str
    sku: str
    threshold: Any


def prepare_batch(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    product_ids: Iterable[int],
    facts: Iterable[Facts] | None = None,
    with_companions: bool = False,
) -> None:
    """Lock, and read once, what a batch of documents of one branch will move (a push).

    Locks the levels that exist in the global order (the batch holds them to its commit,
    so each document's record_movements reads nothing again: see held_levels); reads the
    products' facts and which of them have lots, so no document of the batch queries them.
    A level that does not exist yet is made by the first movement of its product.
    with_companions: what the domains above registered (lock_companion) is read with the
    locks, on PostgreSQL (an order's reservation).
    """
    ids = sorted({int(product_id) for product_id in product_ids})
    lock_levels(
        session,
        tenant_id=tenant_id,
        keys=[(branch_id, product_id) for product_id in ids],
        create=False,
        with_companions=with_companions,
    )
    if not ids:
        return
    # Facts the caller read (with the products, before the locks, as they are no less
    # current here: a threshold changes without the level's lock) are not read again.
    rows: list[Any]
    if facts is not None:
        rows = list(facts)
        note_lots(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=ids, plain=True)
    else:
        # Which of them have lots comes with the facts (one query instead of two).
        rows = list(
            session.execute(
                _FACTS_AND_LOTS,
                {"tenant_id": tenant_id, "branch_id": branch_id, "product_ids": ids},
            )
        )
        note_lots_found(
            session,
            tenant_id=tenant_id,
            branch_id=branch_id,
            product_ids=ids,
            with_lots={row.id for row in rows if row.has_lots},
        )
    session.info[_BATCH_FACTS] = (
        session.get_transaction(),
        (tenant_id, branch_id),
        {row.id: row for row in rows},
    )


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
# The same rows of one branch, its products as one array (PostgreSQL: _lock_with_companions).
_LEVELS_OF_BRANCH = (
    select(StockLevel)
    .where(
        StockLevel.tenant_id == bindparam("tenant_id"),
        StockLevel.branch_id == bindparam("branch_id"),
        StockLevel.product_id == any_(bindparam("product_ids", type_=ARRAY(BigInteger))),
    )
    .order_by(StockLevel.branch_id, StockLevel.product_id)
    .execution_options(populate_existing=True)
)
# FOR NO KEY UPDATE: what an UPDATE of non-key columns takes anyway. Plain FOR UPDATE would
# also block the key-share locks that inserts referencing the row take for their foreign
# keys, turning every such insert into one more lock to order.
_LEVELS_FOR_UPDATE = _LEVELS.with_for_update(key_share=True)


class LockCompanion(NamedTuple):
    """What a domain above the ledger reads with the levels' locks (an order's reservation).

    column: a scalar expression correlated with StockLevel (its tenant, branch, product);
    note(session, tenant_id, branch_id, {product id: value}) is told the values, once the
    locks are held, only when they are current: see _lock_with_companions.
    """

    column: Any
    note: Callable[[Session, int, int, dict[int, Any]], None]


_COMPANIONS: list[LockCompanion] = []
_WITH_COMPANIONS: dict[tuple[int, bool], AnySelect] = {}


def lock_companion(companion: LockCompanion) -> None:
    """Register what is read with the levels' locks (from a domain's receivers.py)."""
    if companion not in _COMPANIONS:
        _COMPANIONS.append(companion)
        _WITH_COMPANIONS.clear()


def _companions() -> list[LockCompanion]:
    load_receivers()  # the domains above register theirs there
    return _COMPANIONS


# The row locked is the newest version of the level; a subquery of the same statement reads
# the version its snapshot (taken before any wait for the lock) sees. The same xmin: no
# writer of the level committed between the two, so the snapshot's reads are current.
_LEVEL_CURRENT = literal_column(
    "(stock_levels.xmin = (SELECT seen.xmin FROM stock_levels AS seen "
    "WHERE seen.id = stock_levels.id AND seen.tenant_id = stock_levels.tenant_id))",
    Boolean,
)


def _lock_with_companions(
    session: Session, *, tenant_id: int, keys: list[LevelKey]
) -> dict[LevelKey, StockLevel]:
    """Lock the levels as _LEVELS_FOR_UPDATE does, reading the companions' columns with them.

    PostgreSQL takes the statement's snapshot before it waits for a lock: a row locked after
    a wait is its newest version, but the statement's subqueries still see the snapshot, so
    what a writer of the level committed while this one waited is not in them. Every writer
    of a level's stock (a movement) updates the level, so the companions' values are told
    (note) only for levels whose locked version is the one the snapshot sees; for the rest
    the domain reads them itself later, as it would without this.
    """
    companions = _COMPANIONS
    branches = {branch_id for branch_id, _ in keys}
    # One branch (every order): its products as one array, so the statement's text is the
    # same whatever their number and nothing is expanded per run; else the (branch, product)
    # pairs. The same rows either way, locked in the same order.
    one_branch = len(branches) == 1
    stmt = _WITH_COMPANIONS.get((len(companions), one_branch))
    if stmt is None:
        stmt = _WITH_COMPANIONS[(len(companions), one_branch)] = (
            (_LEVELS_OF_BRANCH if one_branch else _LEVELS)
            .add_columns(_LEVEL_CURRENT, *(c.column for c in companions))
            .with_for_update(of=StockLevel, key_share=True)
        )
    params: dict[str, Any] = {"tenant_id": tenant_id}
    if one_branch:
        params["branch_id"] = next(iter(branches))
        params["product_ids"] = [product_id for _, product_id in keys]
    else:
        params["keys"] = keys
    rows: dict[LevelKey, StockLevel] = {}
    values: list[dict[int, Any]] = [{} for _ in companions]
    for level, current, *found in session.execute(stmt, params):
        rows[(level.branch_id, level.product_id)] = level
        if current:
            for value, by_product in zip(found, values, strict=True):
                by_product[level.product_id] = value
    if one_branch:
        for companion, by_product in zip(companions, values, strict=True):
            if by_product:
                companion.note(session, tenant_id, next(iter(branches)), by_product)
    return rows


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
    # One event for the batch: alerts judge every moved level at once (see events.py).
    changed = StockChanged(
        session=session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        changes=[
            LevelChange(
                facts[line.product_id],
                levels[line.product_id],
                facts[line.product_id].threshold,
            )
            for line in lines
        ],
    )
    events.publish(changed)
    for line, movement, (before, after), change in zip(
        lines, movements, states, changed.changes, strict=True
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
        for follow_up in change.follow_ups:
            follow_up()
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
