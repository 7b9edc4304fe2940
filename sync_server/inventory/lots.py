"""Lots and expiry: stock per lot beside the product's ledger, first-expiry-first-out.

A product's level stays the sum of its movements; a lot level is the sum of the lot
movements that split those movements over lots (a sale of 5 may take 3 from the lot that
expires first and 2 from the next). Stock that arrived without a lot (everything from
before lots existed) is untracked: the product level minus what its lots hold.

Every lot write happens inside ``record_movements`` (one hook call) while the product's
level row is locked, so two writers of the same product's lots are already serialised.
Which lot a movement takes:

- receipts name their lot (``lot_receipts.book_receipt``); other stock coming in is
  untracked, except a transfer's arrival, which brings the lots its dispatch took;
- a sale, dispatch or write-off takes a lot the till scanned (a hint), else the lots
  first to expire (FEFO), fresh ones before expired ones, then untracked stock;
- an online reservation takes FEFO from lots that have not expired, then untracked stock;
  if only expired stock would cover it, it is refused (expired goods are never promised);
- a release or commit takes back from the lots its document reserved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Select, any_, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.codes import AdjustReason, MovementCode
from common.errors import Conflict, InsufficientStock, ValidationFailed
from common.schemas.base import plain_str
from common.units import format_quantity
from sync_server.db import is_sqlite, select_plainly
from sync_server.inventory.models import LotLevel, LotMovement, StockLevel, StockLot, StockMovement

ZERO = Decimal("0")


def today_utc() -> date:
    """Return today's date (UTC), the day expiry dates are judged against."""
    return datetime.now(UTC).date()


LotHints = dict[int, list[tuple[str, Decimal]]]
"""Lots named for a batch's products: product id -> [(lot number, quantity)], quantities > 0.

An empty list means the caller books that product's lots itself (a count by lot)."""

_RESERVATION_ONLY = {MovementCode.RESERVATION.value, MovementCode.RELEASE.value}
_RESERVING = {MovementCode.RESERVATION.value, MovementCode.RELEASE.value, MovementCode.COMMIT.value}
_TAKING = {
    MovementCode.SALE.value,
    MovementCode.TRANSFER_OUT.value,
    MovementCode.ADJUSTMENT.value,
    MovementCode.COUNT.value,
}


def _effect(code: str, quantity: Decimal) -> tuple[Decimal, Decimal]:
    if code in _RESERVATION_ONLY:
        return ZERO, quantity
    if code == MovementCode.COMMIT.value:
        return quantity, quantity
    return quantity, ZERO


def clean_lot_number(value: str) -> str:
    """Return a lot number as stored: trimmed, GS1's 20 printable characters at most."""
    text = (value or "").strip()
    if not text or len(text) > 20 or not text.isprintable() or " " in text:
        raise ValidationFailed(f"Lot number {value!r} is not valid: 1 to 20 characters, no spaces.")
    return text


def _readable(lot_number: str) -> bool:
    try:
        clean_lot_number(lot_number)
    except ValidationFailed:
        return False
    return True


def lot_for(
    session: Session, *, tenant_id: int, product_id: int, lot_number: str, expiry: date | None
) -> StockLot:
    """Return the product's lot of that number, creating it; refuse a second expiry date."""
    lot_number = clean_lot_number(lot_number)
    lot = session.scalar(
        select(StockLot).where(
            StockLot.tenant_id == tenant_id,
            StockLot.product_id == product_id,
            StockLot.lot_number == lot_number,
        )
    )
    if lot is None:
        lot = StockLot(
            tenant_id=tenant_id, product_id=product_id, lot_number=lot_number, expiry=expiry
        )
        try:
            # Two branches may meet a new lot at once (each holds only its own level lock).
            with session.begin_nested():
                session.add(lot)
                session.flush()
        except IntegrityError:
            return lot_for(
                session,
                tenant_id=tenant_id,
                product_id=product_id,
                lot_number=lot_number,
                expiry=expiry,
            )
    elif expiry is not None and lot.expiry is None:
        lot.expiry = expiry
    elif expiry is not None and lot.expiry != expiry:
        raise Conflict(
            f"Lot {lot_number} of this product expires on {lot.expiry}, "
            f"not {expiry.isoformat()}: check the label."
        )
    return lot


# session.info key: (root transaction, tenant id, branch id, products looked at, those with lots).
_LOT_PRODUCTS = "stock_lot_products"


def _products_with_lots_read(levels: Any, match: Callable[[Any], Any]) -> Select[Any]:
    """The products of `ids` that have lot levels at a branch: `levels` the mapped class or
    the table's columns, `match` how the product id is compared with the ids."""
    return (
        select(levels.product_id)
        .distinct()
        .where(
            levels.tenant_id == bindparam("tenant_id"),
            levels.branch_id == bindparam("branch_id"),
            match(levels.product_id),
        )
    )


def _expanding(product_id: Any) -> Any:
    return product_id.in_(bindparam("ids", expanding=True))


# Built once: every order and every push batch runs it.
_PRODUCTS_WITH_LOTS = _products_with_lots_read(LotLevel, _expanding)
_LOT_LEVELS = LotLevel.__table__
# The same read in plain Core (the table's columns): no ORM execution for one column.
_PLAIN_PRODUCTS_WITH_LOTS = _products_with_lots_read(_LOT_LEVELS.c, _expanding)
# On PostgreSQL the ids go as one array (one statement text whatever their number), and the
# text is compiled once (db.select_plainly): no cache-key lookup, no expanding IN per run.
_PLAIN_PRODUCTS_WITH_LOTS_PG = _products_with_lots_read(
    _LOT_LEVELS.c, lambda product_id: product_id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)


def products_with_lots(session: Session, params: dict[str, Any]) -> set[int]:
    """Return which of params["ids"] have a lot level at the branch, read in plain Core on the
    session's connection (params: tenant_id, branch_id, ids)."""
    if is_sqlite(session.get_bind()):
        return set(session.connection().scalars(_PLAIN_PRODUCTS_WITH_LOTS, params))
    return {row[0] for row in select_plainly(session, _PLAIN_PRODUCTS_WITH_LOTS_PG, params)}


def note_batch(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    product_ids: list[int],
    plain: bool = False,
) -> None:
    """Find once which of a batch's products have lots at the branch, for follow to skip the rest.

    A batch of many documents (a push) would otherwise read the branch's lots once per
    document, and that read flushes every pending row first. Kept to the transaction;
    a lot level made meanwhile (level_of) marks its product, so the answer stays true.
    plain: read on the session's connection, past the ORM's execution (an order's
    reservation, which has written nothing yet); a pending lot level is flushed first.
    """
    ids = sorted(set(product_ids))
    params = {"tenant_id": tenant_id, "branch_id": branch_id, "ids": ids}
    if plain:
        if any(isinstance(obj, LotLevel) for obj in (*session.new, *session.dirty)):
            session.flush()
        with_lots = products_with_lots(session, params)
    else:
        with_lots = set(session.scalars(_PRODUCTS_WITH_LOTS, params))
    session.info[_LOT_PRODUCTS] = (
        session.get_transaction(),
        tenant_id,
        branch_id,
        set(ids),
        with_lots,
    )


def note_batch_found(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    product_ids: list[int],
    with_lots: set[int],
) -> None:
    """Note what note_batch would find, read by the caller with its own query
    (ledger.prepare_batch reads it with the products' facts): `with_lots` are the products
    among `product_ids` that have a lot level at the branch."""
    session.info[_LOT_PRODUCTS] = (
        session.get_transaction(),
        tenant_id,
        branch_id,
        set(product_ids),
        set(with_lots),
    )


def products_with_lots_at(tenant_id: Any, branch_id: Any, product_id: Any) -> Any:
    """Return an EXISTS saying whether a product has a lot level at a branch (for a select)."""
    return exists().where(
        LotLevel.tenant_id == tenant_id,
        LotLevel.branch_id == branch_id,
        LotLevel.product_id == product_id,
    )


def _known_lotless(
    session: Session, *, tenant_id: int, branch_id: int, product_ids: set[int]
) -> bool:
    """Say whether the batch noted these products have no lot at the branch."""
    noted = session.info.get(_LOT_PRODUCTS)
    if noted is None or noted[0] is not session.get_transaction():
        return False
    if (noted[1], noted[2]) != (tenant_id, branch_id) or not product_ids <= noted[3]:
        return False
    return not product_ids & noted[4]


def lotless(session: Session, *, tenant_id: int, branch_id: int, product_ids: list[int]) -> bool:
    """Say whether note_batch, in this transaction, found none of these products' lots here."""
    return _known_lotless(
        session, tenant_id=tenant_id, branch_id=branch_id, product_ids=set(product_ids)
    )


def _mark_lotted(session: Session, *, tenant_id: int, branch_id: int, product_id: int) -> None:
    noted = session.info.get(_LOT_PRODUCTS)
    if noted is not None and (noted[1], noted[2]) == (tenant_id, branch_id):
        noted[4].add(product_id)


def branch_lots(
    session: Session, *, tenant_id: int, branch_id: int, product_ids: Iterable[int]
) -> dict[int, list[tuple[LotLevel, StockLot]]]:
    """Return the branch's lot levels of the products, each with its lot, in FEFO order."""
    found: dict[int, list[tuple[LotLevel, StockLot]]] = defaultdict(list)
    ids = sorted(set(product_ids))
    if not ids:
        return found
    rows = session.execute(
        select(LotLevel, StockLot)
        .join(StockLot, StockLot.id == LotLevel.lot_id)
        .where(
            LotLevel.tenant_id == tenant_id,
            LotLevel.branch_id == branch_id,
            LotLevel.product_id.in_(ids),
        )
        .execution_options(populate_existing=True)
    ).all()
    for level, lot in sorted(rows, key=lambda row: fefo_key(row[1])):
        found[level.product_id].append((level, lot))
    return found


def fefo_key(lot: StockLot) -> tuple[Any, ...]:
    # First to expire first; lots without a date last; ties by age.
    return (lot.expiry is None, lot.expiry or date.max, lot.id)


def is_expired(lot: StockLot, today: date) -> bool:
    """Say whether the lot's expiry date has passed (it may be sold on its last day)."""
    return lot.expiry is not None and lot.expiry < today


def level_of(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    lot: StockLot,
    known: list[tuple[LotLevel, StockLot]],
) -> LotLevel:
    for level, other in known:
        if other.id == lot.id:
            return level
    level = LotLevel(
        tenant_id=tenant_id,
        branch_id=branch_id,
        product_id=lot.product_id,
        lot_id=lot.id,
        on_hand=ZERO,
        reserved=ZERO,
    )
    session.add(level)
    known.append((level, lot))
    _mark_lotted(session, tenant_id=tenant_id, branch_id=branch_id, product_id=lot.product_id)
    return level


def move(session: Session, *, level: LotLevel, movement: StockMovement, quantity: Decimal) -> None:
    d_on_hand, d_reserved = _effect(movement.code, quantity)
    level.on_hand += d_on_hand
    level.reserved += d_reserved
    session.add(
        LotMovement(
            tenant_id=movement.tenant_id,
            movement_uuid=movement.uuid,
            lot_id=level.lot_id,
            branch_id=movement.branch_id,
            product_id=movement.product_id,
            code=movement.code,
            quantity=quantity,
            reference_type=movement.reference_type,
            reference_id=movement.reference_id,
            occurred_at=movement.occurred_at,
        )
    )


def follow(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    movements: list[StockMovement],
    levels: dict[int, StockLevel],
    hints: LotHints | None = None,
    today: date | None = None,
) -> None:
    """Split a batch of movements over the product's lots (the hook in record_movements)."""
    hints = hints or {}
    arriving = any(m.code == MovementCode.TRANSFER_IN.value for m in movements)
    if (
        not hints
        and not arriving
        and _known_lotless(
            session,
            tenant_id=tenant_id,
            branch_id=branch_id,
            product_ids={m.product_id for m in movements},
        )
    ):
        return  # the batch found no lot of these products here, and none was made since
    by_product = branch_lots(
        session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        product_ids=[m.product_id for m in movements],
    )
    if not by_product and not hints and not arriving:
        return  # no lot of these products here: the common case costs one query
    today = today or today_utc()
    for movement in movements:
        if movement.product_id in hints and not hints[movement.product_id]:
            continue  # an empty list: the caller sets this product's lots itself (a count)
        known = by_product[movement.product_id]
        remaining = movement.quantity
        sign = Decimal(1) if remaining > 0 else Decimal(-1)
        for lot_number, quantity in hints.get(movement.product_id, []):
            take = min(abs(quantity), abs(remaining))
            if take <= 0 or not _readable(lot_number):
                continue  # a label we cannot file under a lot must not refuse a till's sale
            lot = lot_for(
                session,
                tenant_id=tenant_id,
                product_id=movement.product_id,
                lot_number=lot_number,
                expiry=None,
            )
            level = level_of(
                session, tenant_id=tenant_id, branch_id=branch_id, lot=lot, known=known
            )
            move(session, level=level, movement=movement, quantity=sign * take)
            remaining -= sign * take
        if remaining == 0 or not known and movement.code != MovementCode.TRANSFER_IN.value:
            continue
        if movement.code == MovementCode.RESERVATION.value:
            _reserve(
                session,
                movement=movement,
                known=known,
                need=remaining,
                level=levels[movement.product_id],
                today=today,
            )
        elif movement.code in (MovementCode.RELEASE.value, MovementCode.COMMIT.value):
            _settle(session, movement=movement, known=known, need=-remaining)
        elif movement.code == MovementCode.TRANSFER_IN.value:
            _arrive(session, movement=movement, known=known, need=remaining, tenant_id=tenant_id)
        elif movement.code in _TAKING and remaining < 0:
            fresh = [(lv, lot) for lv, lot in known if not is_expired(lot, today)]
            stale = [(lv, lot) for lv, lot in known if is_expired(lot, today)]
            # Goods written off as expired are the expired lots; anything else leaves fresh.
            order = stale + fresh if movement.reason == AdjustReason.EXPIRY.value else fresh + stale
            _take(session, movement=movement, candidates=order, need=-remaining)


def _take(
    session: Session,
    *,
    movement: StockMovement,
    candidates: list[tuple[LotLevel, StockLot]],
    need: Decimal,
) -> Decimal:
    """Take up to need (> 0) from the candidates' available stock in order; return the rest."""
    for level, _ in candidates:
        if need <= 0:
            break
        available = level.on_hand - level.reserved
        take = min(available, need)
        if take > 0:
            move(session, level=level, movement=movement, quantity=-take)
            need -= take
    return need


def _reserve(
    session: Session,
    *,
    movement: StockMovement,
    known: list[tuple[LotLevel, StockLot]],
    need: Decimal,
    level: StockLevel,
    today: date,
) -> None:
    held_by_lots = sum((lv.on_hand - lv.reserved for lv, _ in known), ZERO)
    # The product level already counts this reservation; untracked is what no lot holds.
    untracked = (level.on_hand - (level.reserved - movement.quantity)) - held_by_lots
    for lot_level, lot in known:
        if need <= 0:
            break
        if is_expired(lot, today):
            continue
        take = min(lot_level.on_hand - lot_level.reserved, need)
        if take > 0:
            move(session, level=lot_level, movement=movement, quantity=take)
            need -= take
    if need > max(untracked, ZERO):
        fresh = movement.quantity - need + max(untracked, ZERO)
        raise InsufficientStock(
            f"Only {format_quantity(fresh)} of product {movement.product_id} can be promised: "
            "the rest of the stock is past its expiry date and is never reserved.",
            lines=[
                {
                    "product_id": movement.product_id,
                    "requested": plain_str(movement.quantity),
                    "available": plain_str(fresh),
                    "reason": "expired",
                }
            ],
        )


def _held_by_document(
    session: Session, *, movement: StockMovement, codes: set[str]
) -> dict[int, Decimal]:
    rows = session.execute(
        select(LotMovement.lot_id, func.sum(LotMovement.quantity))
        .where(
            LotMovement.tenant_id == movement.tenant_id,
            LotMovement.branch_id == movement.branch_id,
            LotMovement.product_id == movement.product_id,
            LotMovement.reference_type == movement.reference_type,
            LotMovement.reference_id == movement.reference_id,
            LotMovement.code.in_(codes),
        )
        .group_by(LotMovement.lot_id)
    ).all()
    return {lot_id: Decimal(total) for lot_id, total in rows}


def _settle(
    session: Session,
    *,
    movement: StockMovement,
    known: list[tuple[LotLevel, StockLot]],
    need: Decimal,
) -> None:
    session.flush()  # the document's earlier lot movements in this transaction count too
    held = _held_by_document(session, movement=movement, codes=_RESERVING)
    for level, lot in known:
        if need <= 0:
            break
        take = min(held.get(lot.id, ZERO), need)
        if take > 0:
            move(session, level=level, movement=movement, quantity=-take)
            need -= take


def _arrive(
    session: Session,
    *,
    movement: StockMovement,
    known: list[tuple[LotLevel, StockLot]],
    need: Decimal,
    tenant_id: int,
) -> None:
    """Bring into the destination the lots the transfer's dispatch took, not yet arrived."""
    session.flush()
    rows = session.execute(
        select(LotMovement.lot_id, LotMovement.code, func.sum(LotMovement.quantity))
        .where(
            LotMovement.tenant_id == tenant_id,
            LotMovement.product_id == movement.product_id,
            LotMovement.reference_type == movement.reference_type,
            LotMovement.reference_id == movement.reference_id,
            LotMovement.code.in_([MovementCode.TRANSFER_OUT.value, MovementCode.TRANSFER_IN.value]),
        )
        .group_by(LotMovement.lot_id, LotMovement.code)
    ).all()
    due: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for lot_id, _code, total in rows:
        # Out is negative, in positive: what was sent and has not arrived yet.
        due[lot_id] -= Decimal(total)
    lots = {
        lot.id: lot for lot in session.scalars(select(StockLot).where(StockLot.id.in_(list(due))))
    }
    for lot_id in sorted(due, key=lambda i: fefo_key(lots[i])):
        take = min(due[lot_id], need)
        if take <= 0:
            continue
        level = level_of(
            session,
            tenant_id=tenant_id,
            branch_id=movement.branch_id,
            lot=lots[lot_id],
            known=known,
        )
        move(session, level=level, movement=movement, quantity=take)
        need -= take
        if need <= 0:
            break
