"""Read queries of the till over the local replica: products, barcodes, customers, search.

Product search uses an FTS5 index kept beside the replica's products table. The store does
not know about it: `ensure_search_index` creates it (and the triggers that keep it in step)
at start-up, and fills it once if the replica already holds products.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, func, select, text
from sqlalchemy.orm import Session, object_session, sessionmaker

from common.codes import Unit
from common.tax import TaxClass, class_from_wire
from pos_client.services.till import CatalogItem, CreditInfo
from pos_client.store.models import (
    Barcode,
    Customer,
    OutboxEvent,
    Product,
    ReplicaRow,
    SaleLine,
    Setting,
    Shift,
    StockLevel,
)

SEARCH_TABLE = "product_search"
# One letter matches a tenth of the catalog: the list starts at two.
MIN_SEARCH_LENGTH = 2
SEARCH_CANDIDATES = 400

_SEARCH_DDL = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5(
        name, sku, content='products', content_rowid='id',
        tokenize="unicode61 remove_diacritics 2", prefix='2 3')""",
    f"""CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_ai AFTER INSERT ON products BEGIN
        INSERT INTO {SEARCH_TABLE}(rowid, name, sku) VALUES (new.id, new.name, new.sku);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_ad AFTER DELETE ON products BEGIN
        INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, sku)
        VALUES ('delete', old.id, old.name, old.sku);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_au AFTER UPDATE OF name, sku ON products
    BEGIN
        INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, sku)
        VALUES ('delete', old.id, old.name, old.sku);
        INSERT INTO {SEARCH_TABLE}(rowid, name, sku) VALUES (new.id, new.name, new.sku);
    END""",
]
_TOKEN = re.compile(r"\w+", re.UNICODE)


def read_only_sessions(path: Path) -> sessionmaker[Session]:
    """Return sessions on a read-only connection to the store file (plain deferred reads)."""
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return sessionmaker(engine)


def ensure_search_index(conn: Connection) -> None:
    """Create the product search index and its triggers if missing; fill it if empty."""
    existed = (
        conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = ?", (SEARCH_TABLE,)).first()
        is not None
    )
    for ddl in _SEARCH_DDL:
        conn.exec_driver_sql(ddl)
    if not existed:
        # Products pulled before the index existed are indexed once, here.
        conn.exec_driver_sql(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")


def _tax_class(product: Product) -> TaxClass | None:
    session = object_session(product)
    if product.tax_class_id is None or session is None:
        return None
    row = session.get(ReplicaRow, ("tax_class", str(product.tax_class_id)))
    return class_from_wire(row.data) if row is not None and row.data else None


def _item(product: Product, *, barcode: str | None, on_hand: Decimal | None) -> CatalogItem:
    return CatalogItem(
        tax_class=_tax_class(product),
        hsn=product.hsn or "",
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        price=product.price,
        unit=Unit(product.unit) if product.unit in Unit.__members__.values() else Unit.PIECE,
        tax_rate=product.tax_rate,
        barcode=barcode,
        on_hand=on_hand,
        low_stock_threshold=product.low_stock_threshold,
        category_id=product.category_id,
        template_id=product.template_id,
        variant=product.variant,
    )


def catalog_item(product: Product, *, on_hand: Decimal | None) -> CatalogItem:
    """Return a replica product as the cart sells it (stock already read)."""
    return _item(product, barcode=None, on_hand=on_hand)


def _on_hand(session: Session, product_id: int) -> Decimal | None:
    return session.scalar(select(StockLevel.on_hand).where(StockLevel.product_id == product_id))


def find_by_codes(session: Session, codes: tuple[str, ...]) -> CatalogItem | None:
    """Return the active product with the first of codes as barcode (or SKU), else None."""
    for code in codes:
        row = session.execute(
            select(Product, Barcode.code)
            .join(Barcode, Barcode.product_id == Product.id)
            .where(Barcode.code == code, Product.active.is_(True))
        ).first()
        if row is not None:
            product, barcode = row
            return _item(product, barcode=barcode, on_hand=_on_hand(session, product.id))
    for code in codes:
        by_sku = session.scalars(
            select(Product).where(Product.sku == code, Product.active.is_(True)).limit(1)
        ).first()
        if by_sku is not None:
            return _item(by_sku, barcode=None, on_hand=_on_hand(session, by_sku.id))
    return None


def product_item(session: Session, product_id: int) -> CatalogItem | None:
    """Return one product as the cart sells it."""
    product = session.get(Product, product_id)
    if product is None:
        return None
    return _item(product, barcode=None, on_hand=_on_hand(session, product_id))


def _match_expression(query: str) -> str | None:
    """Turn what the cashier typed into an FTS5 prefix query: every word must match."""
    tokens = _TOKEN.findall(query)
    if not tokens:
        return None
    return " ".join(f'"{token}"*' for token in tokens)


def search_products(session: Session, query: str, *, limit: int = 25) -> list[CatalogItem]:
    """Return products whose name or SKU match what was typed (words as prefixes).

    Names that start with what was typed come first, then the best full-text matches.
    """
    query = query.strip()
    if len(query) < MIN_SEARCH_LENGTH:
        return []
    if query.isdigit() and len(query) >= 8:
        found = find_by_codes(session, (query, query.lstrip("0")))
        if found is not None:
            return [found]
    expression = _match_expression(query)
    if expression is None:
        return []
    # FTS5's bm25 ranking of every match of a common word ("masala") costs tens of ms over
    # 200k products. The first few hundred matches, ordered here by how their names begin,
    # keep typing instant and the DB thread free for scans.
    candidates = [
        row[0]
        for row in session.execute(
            text(f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :q LIMIT :n"),
            {"q": expression, "n": SEARCH_CANDIDATES},
        )
    ]
    names = list(
        session.execute(select(Product.id, Product.name).where(Product.id.in_(candidates))).all()
    )
    lowered = query.lower()
    names.sort(key=lambda row: (not row[1].lower().startswith(lowered), len(row[1]), row[1]))
    ids = [row[0] for row in names[:limit]]
    if not ids:
        return []
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.id.in_(ids), Product.active.is_(True))
        )
    }
    levels = dict(
        session.execute(
            select(StockLevel.product_id, StockLevel.on_hand).where(StockLevel.product_id.in_(ids))
        ).all()
    )
    items = [_item(products[i], barcode=None, on_hand=levels.get(i)) for i in ids if i in products]
    return items[:limit]


def quick_key_items(
    session: Session, codes: tuple[str, ...], *, count: int = 8
) -> list[CatalogItem]:
    """Return the products behind the quick keys: configured codes, else best sellers here."""
    if codes:
        found = (find_by_codes(session, (code,)) for code in codes)
        return [item for item in found if item is not None][:count]
    ids = list(
        session.scalars(
            select(SaleLine.product_id)
            .group_by(SaleLine.product_id)
            # Ties broken by product so the same sales always give the same keys.
            .order_by(func.count().desc(), SaleLine.product_id)
            .limit(count)
        )
    )
    if len(ids) < count:
        # A new till has no sales yet: fill up with the first products of the catalog.
        ids += [
            i
            for i in session.scalars(
                select(Product.id).where(Product.active.is_(True)).order_by(Product.id).limit(count)
            )
            if i not in ids
        ][: count - len(ids)]
    items = (product_item(session, product_id) for product_id in ids)
    return [item for item in items if item is not None]


def _credit(customer: Customer) -> CreditInfo:
    return CreditInfo(
        customer_id=customer.server_id,
        local_id=customer.local_id,
        name=customer.name,
        credit_limit=customer.credit_limit,
        balance=customer.balance,
        phone=customer.phone,
        tax_number=customer.tax_number or "",
        price_group=_price_group(customer),
    )


def _price_group(customer: Customer) -> str | None:
    """Return the customer's price group as the server sent it (kept beside the customer)."""
    session = object_session(customer)
    if session is None or customer.server_id is None:
        return None
    data = session.scalar(
        select(ReplicaRow.data).where(
            ReplicaRow.entity == "customer_price_group",
            ReplicaRow.key == str(customer.server_id),
        )
    )
    return data.get("price_group") if isinstance(data, dict) else None


def find_customers(session: Session, query: str, *, limit: int = 20) -> list[CreditInfo]:
    """Return active customers whose name starts with, or phone contains, what was typed."""
    query = query.strip()
    stmt = select(Customer).where(Customer.active.is_(True))
    if query:
        stmt = stmt.where(
            func.lower(Customer.name).like(f"%{query.lower()}%") | Customer.phone.like(f"%{query}%")
        )
    return [_credit(c) for c in session.scalars(stmt.order_by(Customer.name).limit(limit))]


def customer_credit(session: Session, local_id: str | None) -> CreditInfo | None:
    """Return a customer's cached credit position (fresh, for the payment check)."""
    customer = None if local_id is None else session.get(Customer, local_id)
    return None if customer is None else _credit(customer)


@dataclass(frozen=True)
class TillRules:
    """What the server decides for its tills, as last synced (None: not synced yet)."""

    max_discount_percent: Decimal | None = None
    offline_credit_allowed: bool = True
    receipt_footer: str | None = None


def till_rules(session: Session) -> TillRules:
    """Return the tenant's till settings from the replica."""
    values: dict[str, Any] = dict(session.execute(select(Setting.key, Setting.value)).all())
    limit = values.get("till_max_discount_percent")
    return TillRules(
        max_discount_percent=Decimal(str(limit)) if limit is not None else None,
        offline_credit_allowed=bool(values.get("till_offline_credit_allowed", True)),
        receipt_footer=values.get("receipt_footer"),
    )


@dataclass(frozen=True)
class ShiftInfo:
    """The open shift as the till shows it."""

    shift_id: str
    cashier_id: int | None
    opened_at: datetime
    opening_float: Decimal


def current_shift(session: Session) -> ShiftInfo | None:
    """Return the shift open on this till, if any."""
    shift = session.scalars(
        select(Shift).where(Shift.closed_at.is_(None)).order_by(Shift.opened_at.desc())
    ).first()
    if shift is None:
        return None
    return ShiftInfo(
        shift_id=shift.id,
        cashier_id=shift.cashier_id,
        opened_at=shift.opened_at,
        opening_float=shift.opening_float,
    )


def pending_events(session: Session) -> int:
    """Return how many events still wait in the outbox for the server."""
    return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0
