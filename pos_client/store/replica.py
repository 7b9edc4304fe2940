"""Apply pulled changes to the till's replica of server data."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from common.ids import new_id
from common.sync.protocol import ChangeOp, PulledChange
from pos_client.store.models import (
    ZERO,
    Barcode,
    Category,
    Customer,
    Pack,
    Product,
    ReplicaRow,
    Setting,
    Staff,
    StockLevel,
    utcnow,
)
from pos_client.store.plain_sql import PreparedWrite, run_sql

# Tables a full snapshot replaces (the till's own documents are never touched).
REPLICA_TABLES = (Product, Barcode, Pack, Category, StockLevel, Staff, Setting, ReplicaRow)

# The bulk writes of a page, prepared once as plain SQL run with the driver's executemany,
# values bound by column type (see plain_sql): a 200k-product snapshot is 400k rows, and
# compiling Core statements and their parameters per page cost more than writing them.
_PRODUCT_COLUMNS = tuple(c.name for c in Product.__table__.columns)
_UPSERT_PRODUCT = PreparedWrite(
    Product.__table__,
    columns=_PRODUCT_COLUMNS,
    conflict=("id",),
    update=tuple(c for c in _PRODUCT_COLUMNS if c != "id"),
)
_UPSERT_BARCODE = PreparedWrite(
    Barcode.__table__, columns=("code", "product_id"), conflict=("code",), update=("product_id",)
)
_UPSERT_PACK = PreparedWrite(
    Pack.__table__,
    columns=("code", "product_id", "label", "quantity", "price"),
    conflict=("code",),
    update=("product_id", "label", "quantity", "price"),
)
_UPSERT_LEVEL = PreparedWrite(
    StockLevel.__table__,
    columns=("product_id", "on_hand", "updated_at"),
    conflict=("product_id",),
    update=("on_hand", "updated_at"),
)


def _dec(value: Any, default: Decimal = ZERO) -> Decimal:
    return default if value is None else Decimal(str(value))


def reset(session: Session) -> None:
    """Drop the replica before a full snapshot; customers made here and not yet synced stay."""
    for table in REPLICA_TABLES:
        session.execute(delete(table))
    session.execute(delete(Customer).where(Customer.server_id.is_not(None)))


def apply_changes(session: Session, changes: list[PulledChange]) -> None:
    """Apply a page of changes in order, in the caller's transaction.

    Runs of product and stock upserts are written as bulk upserts: a 200k-product
    snapshot must fit its time budget, and they do not depend on one another.
    """
    products: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    packs: list[dict[str, Any]] = []
    levels: dict[int, dict[str, Any]] = {}

    def flush_bulk() -> None:
        if products:
            _upsert_products(session, products, codes)
            _replace_packs(session, [row["id"] for row in products], packs)
            products.clear()
            codes.clear()
            packs.clear()
        if levels:
            _UPSERT_LEVEL.run(session.connection(), list(levels.values()))
            levels.clear()

    now = utcnow()
    for change in changes:
        data = change.data if change.op == ChangeOp.UPSERT else None
        if data and change.entity == "product":
            if levels:
                flush_bulk()
            row = _product_row(data)
            products.append(row)
            codes.extend({"code": c, "product_id": row["id"]} for c in data.get("barcodes", []))
            packs.extend(_pack_rows(row["id"], data))
            continue
        if data and change.entity in ("stock", "stock_level"):
            if products:
                flush_bulk()
            product_id = int(data.get("product_id", change.key))
            levels[product_id] = {
                "product_id": product_id,
                "on_hand": _dec(data.get("on_hand")),
                "updated_at": now,
            }
            continue
        flush_bulk()
        _apply_one(session, change)
    flush_bulk()


def _upsert_products(
    session: Session, products: list[dict[str, Any]], codes: list[dict[str, Any]]
) -> None:
    # The last change of a product in the page wins, as if applied one by one.
    latest = {row["id"]: row for row in products}
    connection = session.connection()
    _UPSERT_PRODUCT.run(connection, list(latest.values()))
    _delete_by_product(connection, "barcodes", latest)
    _UPSERT_BARCODE.run(connection, codes)


def _delete_by_product(connection: Connection, table: str, product_ids: Iterable[int]) -> None:
    params = [(product_id,) for product_id in product_ids]
    if params:
        run_sql(connection, f"DELETE FROM {table} WHERE product_id = ?", params, many=True)


def _pack_rows(product_id: int, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "code": pack["code"],
            "product_id": product_id,
            "label": pack.get("label") or "pack",
            "quantity": _dec(pack["quantity"]),
            "price": _dec(pack["price"]),
        }
        for pack in data.get("packs") or []
    ]


def _replace_packs(session: Session, product_ids: list[int], packs: list[dict[str, Any]]) -> None:
    # Packs are few: only products that have some carry rows, the rest cost one delete.
    connection = session.connection()
    _delete_by_product(connection, "packs", dict.fromkeys(product_ids))
    if packs:
        latest = {row["code"]: row for row in packs}
        _UPSERT_PACK.run(connection, list(latest.values()))


def _product_row(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(data["id"]),
        "sku": data["sku"],
        "name": data["name"],
        "category_id": data.get("category_id"),
        "category_name": data.get("category_name"),
        "price": _dec(data["price"]),
        "tax_rate": _dec(data.get("tax_rate")),
        "unit": data.get("unit") or "piece",
        "low_stock_threshold": _dec(data.get("low_stock_threshold")),
        "active": bool(data.get("active", True)),
        "tax_class_id": data.get("tax_class_id"),
        "hsn": data.get("hsn") or "",
        "template_id": data.get("template_id"),
        "template_name": data.get("template_name"),
        "variant": data.get("variant"),
    }


def _apply_one(session: Session, change: PulledChange) -> None:
    data = change.data or {}
    deleting = change.op == ChangeOp.DELETE
    entity = change.entity
    if entity == "product":
        # Archived products arrive as upserts with active false; a delete removes the row.
        session.execute(delete(Barcode).where(Barcode.product_id == int(change.key)))
        session.execute(delete(Pack).where(Pack.product_id == int(change.key)))
        session.execute(delete(Product).where(Product.id == int(change.key)))
    elif entity == "category":
        if deleting:
            session.execute(delete(Category).where(Category.id == int(change.key)))
        else:
            session.merge(
                Category(id=int(data["id"]), name=data["name"], parent_id=data.get("parent_id"))
            )
    elif entity in ("stock", "stock_level"):
        product_id = int(data.get("product_id", change.key) if data else change.key)
        if deleting:
            session.execute(delete(StockLevel).where(StockLevel.product_id == product_id))
        else:
            session.merge(
                StockLevel(
                    product_id=product_id, on_hand=_dec(data.get("on_hand")), updated_at=utcnow()
                )
            )
    elif entity == "staff":
        if deleting:
            session.execute(delete(Staff).where(Staff.id == int(change.key)))
        else:
            session.merge(
                Staff(
                    id=int(data["id"]),
                    username=data["username"],
                    full_name=data.get("full_name") or "",
                    role=data["role"],
                    active=bool(data.get("active", True)),
                    pin_hash=data.get("pin_hash"),
                )
            )
    elif entity == "customer":
        _apply_customer(session, key=int(change.key), data=None if deleting else data)
    elif entity == "setting":
        if deleting:
            session.execute(delete(Setting).where(Setting.key == change.key))
        else:
            session.merge(Setting(key=change.key, value=data.get("value")))
    elif deleting:
        session.execute(
            delete(ReplicaRow).where(ReplicaRow.entity == entity, ReplicaRow.key == change.key)
        )
    else:
        session.merge(ReplicaRow(entity=entity, key=change.key, data=data))


def _apply_customer(session: Session, *, key: int, data: dict[str, Any] | None) -> None:
    customer = session.scalar(select(Customer).where(Customer.server_id == key))
    if data is None:
        if customer is not None:
            customer.active = False
        return
    if customer is None:
        customer = Customer(local_id=new_id(), server_id=key)
        session.add(customer)
    customer.name = data.get("name") or ""
    customer.phone = data.get("phone") or ""
    customer.email = data.get("email")
    customer.credit_limit = _dec(data.get("credit_limit"))
    customer.balance = _dec(data.get("balance"))
    customer.tax_number = data.get("tax_number") or ""
    customer.active = bool(data.get("active", True))


def link_customer(session: Session, *, local_id: str, server_id: int) -> None:
    """Give a customer made offline its server identity (merging with a replica row)."""
    local = session.get(Customer, local_id)
    if local is None or local.server_id == server_id:
        return
    other = session.scalar(select(Customer).where(Customer.server_id == server_id))
    if other is not None and other.local_id != local_id:
        # The server merged ours into an existing customer: keep our row (sales point at
        # its local id) and take the server's data.
        local.name, local.phone, local.email = other.name, other.phone, other.email
        local.credit_limit, local.balance = other.credit_limit, other.balance
        session.delete(other)
        session.flush()
    local.server_id = server_id
