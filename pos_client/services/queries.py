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
    Customer,
    OutboxEvent,
    Product,
    ReplicaRow,
    SaleLine,
    Setting,
    Shift,
    StockLevel,
)
from pos_client.store.plain_sql import PreparedRead

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


# A scan's lookup: the product, its stock and its tax class in one indexed statement, read
# by column type (see store/plain_sql for why the scan's path is plain SQL).
ITEM_SELECT = (
    "p.id, p.sku, p.name, p.price, p.unit, p.tax_rate, p.low_stock_threshold, p.hsn, "
    "p.category_id, p.template_id, p.variant, s.on_hand, t.data"
)
ITEM_JOINS = (
    "LEFT JOIN stock_levels s ON s.product_id = p.id "
    "LEFT JOIN replica_rows t ON t.entity = 'tax_class' AND t.key = CAST(p.tax_class_id AS TEXT)"
)
ITEM_COLUMNS = (
    Product.__table__.c.id,
    Product.__table__.c.sku,
    Product.__table__.c.name,
    Product.__table__.c.price,
    Product.__table__.c.unit,
    Product.__table__.c.tax_rate,
    Product.__table__.c.low_stock_threshold,
    Product.__table__.c.hsn,
    Product.__table__.c.category_id,
    Product.__table__.c.template_id,
    Product.__table__.c.variant,
    StockLevel.__table__.c.on_hand,
    ReplicaRow.__table__.c.data,
)
_BY_BARCODE = PreparedRead(
    f"SELECT {ITEM_SELECT} FROM barcodes b JOIN products p ON p.id = b.product_id "
    f"{ITEM_JOINS} WHERE b.code = ? AND p.active IS 1",
    columns=ITEM_COLUMNS,
)
# Several products may share a SKU: the first by id, as the index on sku gives them.
_BY_SKU = PreparedRead(
    f"SELECT {ITEM_SELECT} FROM products p {ITEM_JOINS} "
    "WHERE p.sku = ? AND p.active IS 1 ORDER BY p.id LIMIT 1",
    columns=ITEM_COLUMNS,
)


def item_from_row(row: tuple[Any, ...], *, barcode: str | None) -> CatalogItem:
    """Return a row of ITEM_SELECT (read by ITEM_COLUMNS) as the cart sells it."""
    (
        product_id,
        sku,
        name,
        price,
        unit,
        tax_rate,
        low,
        hsn,
        category_id,
        template_id,
        variant,
        on_hand,
        tax_data,
    ) = row
    return CatalogItem(
        tax_class=class_from_wire(tax_data) if tax_data else None,
        hsn=hsn or "",
        product_id=product_id,
        sku=sku,
        name=name,
        price=price,
        unit=Unit(unit) if unit in Unit.__members__.values() else Unit.PIECE,
        tax_rate=tax_rate,
        barcode=barcode,
        on_hand=on_hand,
        low_stock_threshold=low,
        category_id=category_id,
        template_id=template_id,
        variant=variant,
    )


def plain_reads(session: Session) -> Connection:
    """Return the session's connection for plain reads, with its pending changes flushed."""
    if session.autoflush:
        session.flush()  # what an ORM query would have done first
    return session.connection()


def find_by_codes(session: Session, codes: tuple[str, ...]) -> CatalogItem | None:
    """Return the active product with the first of codes as barcode (or SKU), else None."""
    connection = plain_reads(session)
    for code in codes:
        row = _BY_BARCODE.first(connection, (code,))
        if row is not None:
            return item_from_row(row, barcode=code)
    for code in codes:
        row = _BY_SKU.first(connection, (code,))
        if row is not None:
            return item_from_row(row, barcode=None)
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
