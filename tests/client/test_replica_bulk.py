"""The replica's bulk writes (plain SQL, executemany) store what the ORM would, row for row.

A page of product and stock upserts is written with prepared SQL bound by column type
(store/replica.py). Here the same pages go into one store through apply_changes and into a
second one change by change through ORM objects, and every stored value is compared as
SQLite holds it (the text of money, the format of timestamps).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from common.sync.protocol import ChangeOp, PulledChange
from pos_client.store import replica
from pos_client.store.db import LocalStore
from pos_client.store.models import Barcode, Pack, Product, StockLevel

NOW = datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC)
TABLES = ("products", "barcodes", "packs", "stock_levels")


def _product(pid: int, **extra) -> PulledChange:
    data = {
        "id": pid,
        "sku": f"SKU{pid}",
        "name": f"Product {pid} — ü",
        "category_id": 3 if pid % 2 else None,
        "category_name": "Tea" if pid % 2 else None,
        "price": "10.50",
        "tax_rate": "18",
        "unit": "kg" if pid % 3 == 0 else "piece",
        "tax_class_id": None,
        "hsn": "0902",
        "low_stock_threshold": "2.5",
        "active": pid != 4,
        "barcodes": [f"590{pid:010d}"],
        "packs": [],
        **extra,
    }
    return PulledChange(entity="product", key=str(pid), op=ChangeOp.UPSERT, data=data)


def _stock(pid: int, on_hand: str) -> PulledChange:
    return PulledChange(
        entity="stock",
        key=str(pid),
        op=ChangeOp.UPSERT,
        data={"product_id": pid, "on_hand": on_hand, "reserved": "0", "available": on_hand},
    )


PAGES = [
    [
        *(_product(pid) for pid in range(1, 7)),
        _product(
            7,
            packs=[{"code": "19012341234570", "label": "case", "quantity": "12", "price": "99.00"}],
            template_id=70,
            template_name="Shirt",
            variant="M / blue",
        ),
        *(_stock(pid, f"{pid}.250") for pid in range(1, 8)),
        _stock(3, "-1.5"),  # the last level of a product in a page wins
    ],
    [
        # A price change, a barcode moved to another product, a pack dropped, a product
        # changed twice in one page (the last wins), a new product, stock after them.
        _product(2, price="11.00", barcodes=["5900000000002", "5909999999999"]),
        _product(5, barcodes=["5900000000001"]),
        _product(7, packs=[]),
        _product(6, name="first"),
        _product(6, name="second", price="0.05"),
        _product(8, price="1E+1", low_stock_threshold="0"),
        _stock(2, "0"),
        _stock(8, "12"),
    ],
]


def _orm_apply(session, changes: list[PulledChange]) -> None:
    """Write each change on its own through ORM objects: the reference."""
    for change in changes:
        data = change.data or {}
        if change.entity == "product":
            row = replica._product_row(data)
            session.merge(Product(**row))
            session.execute(delete(Barcode).where(Barcode.product_id == row["id"]))
            session.execute(delete(Pack).where(Pack.product_id == row["id"]))
            session.flush()
            for code in data.get("barcodes", []):
                session.merge(Barcode(code=code, product_id=row["id"]))
            for pack in replica._pack_rows(row["id"], data):
                session.merge(Pack(**pack))
        else:
            session.merge(
                StockLevel(
                    product_id=int(data["product_id"]),
                    on_hand=replica._dec(data["on_hand"]),
                    updated_at=NOW,
                )
            )
        session.flush()


def _rows(path) -> dict[str, list[tuple]]:
    raw = sqlite3.connect(path)
    try:
        return {t: raw.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    finally:
        raw.close()


@pytest.mark.parametrize("pages", [1, 2])
def test_bulk_page_writes_what_the_orm_writes(tmp_path, monkeypatch, pages):
    monkeypatch.setattr(replica, "utcnow", lambda: NOW)
    bulk, orm = LocalStore(tmp_path / "bulk.db"), LocalStore(tmp_path / "orm.db")
    try:
        for page in PAGES[:pages]:
            with bulk.transaction() as session:
                replica.apply_changes(session, page)
            with orm.transaction() as session:
                _orm_apply(session, page)
        got, want = _rows(bulk.path), _rows(orm.path)
    finally:
        bulk.close()
        orm.close()
    assert got == want
    assert len(got["products"]) == (7 if pages == 1 else 8)
    if pages == 2:
        products = {row[0]: row for row in got["products"]}
        assert products[6][2] == "second" and products[8][5] == "1E+1"
        assert ("5900000000001", 5) in got["barcodes"] and got["packs"] == []
