"""Serve a device its branch's changes: a paged full snapshot, then the change feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Integer, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.hygiene import MAX_BIGINT
from common.schemas.base import plain_str
from sync_server.audit.service import jsonable
from sync_server.auth.models import User
from sync_server.auth.service import staff_feed_data
from sync_server.catalog.models import Category, Product, ProductBarcode
from sync_server.catalog.packs import pack_rows
from sync_server.catalog.variants import NO_TEMPLATE, template_rows
from sync_server.foundation.feed import catch_up
from sync_server.foundation.models import Change, FeedHead
from sync_server.inventory.models import StockLevel
from sync_server.org.models import Branch
from sync_server.org.service import branch_feed_data, get_settings
from sync_server.partners.models import Customer
from sync_server.partners.service import PRICE_GROUP_ENTITY, customer_feed_data
from sync_server.pricing.service import PRICE_LIST, PROMOTION, live_rule_rows
from sync_server.replica import UseThePrimary, on_replica
from sync_server.sync.retention import floor
from sync_server.tax.models import TaxClassRow
from sync_server.tax.service import feed_data as tax_feed_data

Row = dict[str, Any]
Fetch = Callable[[Session, int, int, int, int], list[Row]]


def _change(entity: str, key: object, data: Row | None) -> Row:
    op = "delete" if data is None else "upsert"
    return {"entity": entity, "key": str(key), "op": op, "data": data, "seq": None}


def staff_at_branch(data: Row, branch_id: int) -> bool:
    """Say whether a staff member may log in at a branch (no branches: every branch)."""
    branches = data.get("branch_ids") or []
    return data.get("role") == "admin" or not branches or branch_id in branches


def _settings(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    if after:
        return []
    values = get_settings(session, tenant_id=tenant_id)
    return [
        _change("setting", key, jsonable({"key": key, "value": value}))
        for key, value in sorted(values.items())
    ]


def _branches(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    rows = session.scalars(
        select(Branch)
        .where(Branch.tenant_id == tenant_id, Branch.id > after)
        .order_by(Branch.id)
        .limit(limit)
    )
    return [_change("branch", b.id, jsonable(branch_feed_data(b))) for b in rows]


def _categories(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    rows = session.execute(
        select(Category.id, Category.name, Category.parent_id)
        .where(Category.tenant_id == tenant_id, Category.id > after)
        .order_by(Category.id)
        .limit(limit)
    )
    return [_change("category", i, {"id": i, "name": n, "parent_id": p}) for i, n, p in rows]


def _staff(session: Session, tenant_id: int, branch_id: int, after: int, limit: int) -> list[Row]:
    users = session.scalars(
        select(User)
        .where(User.tenant_id == tenant_id, User.id > after)
        .order_by(User.id)
        .limit(limit)
    ).all()
    out = []
    for user in users:
        data = jsonable(staff_feed_data(user))
        # Someone who may not work here is sent as absent, so the page still advances.
        out.append(_change("staff", user.id, data if staff_at_branch(data, branch_id) else None))
    return out


def _customers(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    rows = session.scalars(
        select(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.id > after)
        .order_by(Customer.id)
        .limit(limit)
    )
    return [_change("customer", c.id, jsonable(customer_feed_data(c))) for c in rows]


def _products(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    # Plain column reads: a 200k-product first sync must not build 200k ORM objects.
    rows = session.execute(
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.category_id,
            Category.name,
            Product.price,
            Product.tax_rate,
            Product.unit,
            Product.tax_class_id,
            Product.hsn,
            Product.low_stock_threshold,
            Product.active,
        )
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.tenant_id == tenant_id, Product.id > after)
        .order_by(Product.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    codes: dict[int, list[str]] = {}
    for product_id, code in session.execute(
        select(ProductBarcode.product_id, ProductBarcode.code)
        .where(
            ProductBarcode.tenant_id == tenant_id,
            ProductBarcode.product_id >= rows[0][0],
            ProductBarcode.product_id <= rows[-1][0],
        )
        .order_by(ProductBarcode.id)
    ):
        codes.setdefault(product_id, []).append(code)
    packs = pack_rows(session, tenant_id=tenant_id, prices={row[0]: row[5] for row in rows})
    templates = template_rows(session, tenant_id=tenant_id, first=rows[0][0], last=rows[-1][0])
    return [
        _change(
            "product",
            pid,
            {
                "id": pid,
                "sku": sku,
                "name": name,
                "category_id": cat_id,
                "category_name": cat_name,
                "price": plain_str(price),
                "tax_rate": plain_str(tax_rate),
                "unit": unit,
                "tax_class_id": class_id,
                "hsn": hsn,
                "low_stock_threshold": plain_str(low),
                "active": active,
                "barcodes": codes.get(pid, []),
                "packs": packs.get(pid, []),
                **templates.get(pid, NO_TEMPLATE),
            },
        )
        for (
            pid,
            sku,
            name,
            cat_id,
            cat_name,
            price,
            tax_rate,
            unit,
            class_id,
            hsn,
            low,
            active,
        ) in rows
    ]


def _stock(session: Session, tenant_id: int, branch_id: int, after: int, limit: int) -> list[Row]:
    rows = session.execute(
        select(StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved)
        .where(
            StockLevel.tenant_id == tenant_id,
            StockLevel.branch_id == branch_id,
            StockLevel.product_id > after,
        )
        .order_by(StockLevel.product_id)
        .limit(limit)
    )
    # The same fields as inventory's stock_data, read without building ORM objects.
    return [
        _change(
            "stock",
            pid,
            {
                "product_id": pid,
                "on_hand": plain_str(on_hand),
                "reserved": plain_str(reserved),
                "available": plain_str(on_hand - reserved),
            },
        )
        for pid, on_hand, reserved in rows
    ]


def _tax_classes(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    rows = session.scalars(
        select(TaxClassRow)
        .where(TaxClassRow.tenant_id == tenant_id, TaxClassRow.id > after)
        .order_by(TaxClassRow.id)
        .limit(limit)
    )
    return [_change("tax_class", row.id, tax_feed_data(row)) for row in rows]


def _price_groups(
    session: Session, tenant_id: int, branch_id: int, after: int, limit: int
) -> list[Row]:
    rows = session.execute(
        select(Customer.id, Customer.price_group)
        .where(
            Customer.tenant_id == tenant_id,
            Customer.id > after,
            Customer.price_group.is_not(None),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    return [_change(PRICE_GROUP_ENTITY, i, {"price_group": g}) for i, g in rows]


def _pricing(rule_type: str) -> Fetch:
    def fetch(
        session: Session, tenant_id: int, branch_id: int, after: int, limit: int
    ) -> list[Row]:
        rows = live_rule_rows(
            session, tenant_id=tenant_id, rule_type=rule_type, after=after, limit=limit
        )
        return [_change(rule_type, row["id"], row) for row in rows]

    return fetch


# Order matters only for readability of a snapshot; each stage pages by its own key.
# New stages go at the end, so a cursor given out before they existed still parses.
STAGES: list[tuple[str, Fetch]] = [
    ("setting", _settings),
    ("branch", _branches),
    ("category", _categories),
    ("staff", _staff),
    ("customer", _customers),
    ("product", _products),
    ("stock", _stock),
    # Appended in release order so cursors of snapshots under way keep their stage numbers.
    ("tax_class", _tax_classes),
    (PRICE_LIST, _pricing(PRICE_LIST)),
    (PROMOTION, _pricing(PROMOTION)),
    (PRICE_GROUP_ENTITY, _price_groups),
]


def _bounded(number: int) -> int:
    # A cursor holds database keys: within 64 bits, or it was never one we gave out.
    if abs(number) > MAX_BIGINT:
        raise ValueError(number)
    return number


def _parse(cursor: str) -> tuple[int, int | None, int]:
    """Return (feed seq, snapshot stage or None, last key) from an opaque cursor."""
    try:
        if cursor.startswith("f"):
            # A feed position at 0: the snapshot is done but the feed was still empty.
            return _bounded(int(cursor[1:])), None, -1
        if cursor.startswith("s"):
            head, stage, after = cursor[1:].split(":")
            if not 0 <= int(stage) < len(STAGES):
                raise ValueError(stage)
            return _bounded(int(head)), int(stage), _bounded(int(after))
        seq = int(cursor or "0")
        if not 0 <= seq <= MAX_BIGINT:
            raise ValueError(seq)
        return seq, None, 0
    except (ValueError, OverflowError) as exc:
        raise ValidationFailed(f"The cursor '{cursor}' is not one this server gave out.") from exc


def _feed_cursor(seq: int) -> str:
    """Return the cursor of a feed position ("0" alone would ask for a new snapshot)."""
    return str(seq) if seq > 0 else "f0"


def _has_changes_after(session: Session, *, tenant_id: int, branch_id: int, seq: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Change.tenant_id == tenant_id,
                    Change.seq > seq,
                    or_(Change.branch_id.is_(None), Change.branch_id == branch_id),
                )
            )
        )
    )


def pull(session: Session, *, tenant_id: int, branch_id: int, cursor: str, limit: int) -> Row:
    """Return a page of changes for a device's branch and the cursor to send next."""
    seq, stage, after = _parse(cursor)
    # Changes committed but not yet numbered get their numbers first, so this page and the
    # snapshot's head include everything committed up to now.
    catch_up(session, tenant_id=tenant_id)
    # The head is read once, after catch_up numbered what was waiting (a cursor at 0 asks
    # for a snapshot, which reads its own).
    replica = on_replica(session)
    wants_head = seq > 0 and (stage is None or replica)
    head = _head(session, tenant_id=tenant_id) if wants_head else None
    if replica and head is not None and seq > head:
        # The till's cursor (or its snapshot's head) is past what this replica has replayed:
        # that is lag, not a restored server, and only the primary can tell them apart.
        raise UseThePrimary
    if stage is None and seq == 0 and after == 0:
        # Everything committed up to here is in the snapshot; the feed takes over after it.
        return _start_over(session, tenant_id=tenant_id, branch_id=branch_id, limit=limit)
    if stage is None and head is not None and seq == head:
        # Nothing numbered after the cursor: the empty page, without reading the feed. The
        # floor never passes the head, so the cursor cannot have expired either.
        return _empty_page(seq)
    if stage is None and head is not None and seq > head:
        # The till has seen changes this feed never numbered: the server went back in time
        # (restored from a backup). Numbers after the head will be handed out again for
        # other changes, so the till starts over from a snapshot instead of skipping them,
        # and the reset tells it to send again what the server lost. (Pulls read the primary;
        # one served by a lagging replica must compare with the primary's head, not its own.)
        return _start_over(session, tenant_id=tenant_id, branch_id=branch_id, limit=limit)
    if stage is not None:
        return _snapshot_page(
            session,
            tenant_id=tenant_id,
            branch_id=branch_id,
            head=seq,
            stage=stage,
            after=after,
            limit=limit,
            reset=False,
        )
    page = _feed_page(session, tenant_id=tenant_id, branch_id=branch_id, seq=seq, limit=limit)
    if head is not None and not page["has_more"] and int(page["cursor"]) < head:
        # Every change numbered up to the head was committed before the head was read, so
        # the page (read after it) holds all of this branch's: the rest were other
        # branches'. The cursor moves to the head, so the next pull is answered from the
        # head alone instead of reading those other branches' changes again.
        page["cursor"] = _feed_cursor(head)
    # Read after the page: a range that retention drops meanwhile raises the floor first.
    if seq < floor(session, tenant_id=tenant_id):
        # Retention dropped changes after this cursor that the till never saw: it starts
        # over from a snapshot. Nothing was lost on the server, so it sends nothing again.
        start = _start_over(session, tenant_id=tenant_id, branch_id=branch_id, limit=limit)
        return {**start, "expired": True}
    return page


# Built once: every pull reads it.
_HEAD = select(FeedHead.last_seq).where(FeedHead.tenant_id == bindparam("tenant_id"))


def _head(session: Session, *, tenant_id: int) -> int:
    return session.scalar(_HEAD, {"tenant_id": tenant_id}) or 0


def _start_over(session: Session, *, tenant_id: int, branch_id: int, limit: int) -> Row:
    """Return the first page of a snapshot up to the feed's head, telling the till to reset."""
    head = _head(session, tenant_id=tenant_id)
    return _snapshot_page(
        session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        head=head,
        stage=0,
        after=0,
        limit=limit,
        reset=True,
    )


def _snapshot_page(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    head: int,
    stage: int,
    after: int,
    limit: int,
    reset: bool,
) -> Row:
    changes: list[Row] = []
    while stage < len(STAGES) and len(changes) < limit:
        want = limit - len(changes)
        rows = STAGES[stage][1](session, tenant_id, branch_id, after, want)
        changes.extend(rows)
        # Settings come whole (a handful of rows keyed by name, not by id).
        if STAGES[stage][0] == "setting" or len(rows) < want:
            stage, after = stage + 1, 0
        else:
            after = int(rows[-1]["key"])
    if stage < len(STAGES):
        return {
            "changes": changes,
            "cursor": f"s{head}:{stage}:{after}",
            "has_more": True,
            "reset": reset,
            "snapshot": True,
        }
    return {
        "changes": changes,
        "cursor": _feed_cursor(head),
        "has_more": _has_changes_after(session, tenant_id=tenant_id, branch_id=branch_id, seq=head),
        "reset": reset,
        "snapshot": True,
    }


def _empty_page(seq: int) -> Row:
    """Return the page _feed_page gives when no change is numbered after seq."""
    return {
        "changes": [],
        "cursor": _feed_cursor(seq),
        "has_more": False,
        "reset": False,
        "snapshot": False,
    }


# Built once, as _HEAD: every pull past a snapshot reads it.
_PAGE = (
    select(Change.seq, Change.entity, Change.entity_key, Change.op, Change.data)
    .where(
        Change.tenant_id == bindparam("tenant_id"),
        Change.seq > bindparam("seq"),
        or_(Change.branch_id.is_(None), Change.branch_id == bindparam("branch_id")),
    )
    .order_by(Change.seq)
    .limit(bindparam("rows", type_=Integer))
)


def _feed_page(session: Session, *, tenant_id: int, branch_id: int, seq: int, limit: int) -> Row:
    rows = session.execute(
        _PAGE, {"tenant_id": tenant_id, "seq": seq, "branch_id": branch_id, "rows": limit + 1}
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = []
    for change_seq, entity, key, op, data in rows:
        if entity == "staff" and data is not None and not staff_at_branch(data, branch_id):
            op, data = "delete", None
        changes.append({"entity": entity, "key": key, "op": op, "data": data, "seq": change_seq})
    return {
        "changes": changes,
        "cursor": _feed_cursor(rows[-1][0] if rows else seq),
        "has_more": has_more,
        "reset": False,
        "snapshot": False,
    }
