"""Tables of the till's store: the replica, the till's own documents, outbox, sync state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ZERO = Decimal("0")


class DecimalText(TypeDecorator[Decimal]):
    """An exact Decimal stored as text: SQLite's NUMERIC would turn money into floats."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts must not be floats")
        return str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        given: datetime = value
        if given.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        return given.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class LocalBase(DeclarativeBase):
    # Every model here is mapped to one table: say so, so Core statements type-check.
    __table__: ClassVar[Table]
    type_annotation_map = {Decimal: DecimalText, datetime: UtcDateTime, dict[str, Any]: JSON}


# --- replica of server data (keys are server ids) -----------------------------------------


class Product(LocalBase):
    __tablename__ = "products"
    __table_args__ = (Index("ix_products_sku", "sku"), Index("ix_products_name", "name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    category_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    price: Mapped[Decimal]
    tax_rate: Mapped[Decimal] = mapped_column(default=ZERO)
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    low_stock_threshold: Mapped[Decimal] = mapped_column(default=ZERO)
    active: Mapped[bool] = mapped_column(default=True)
    tax_class_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hsn: Mapped[str] = mapped_column(String(8), default="")
    # A variant's template (the search shows the template, a picker the variants).
    template_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    template_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    variant: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Barcode(LocalBase):
    __tablename__ = "barcodes"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, index=True)


class Pack(LocalBase):
    """A pack barcode: scanning it sells ``quantity`` of the product at the pack's price."""

    __tablename__ = "packs"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, index=True)
    label: Mapped[str] = mapped_column(String(32), default="pack")
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]


class Category(LocalBase):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StockLevel(LocalBase):
    """The branch's stock as last pulled, minus what this till sold since."""

    __tablename__ = "stock_levels"

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(default=ZERO)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(LocalBase):
    """People who may log in at this till; PIN hashes only, never PINs."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Customer(LocalBase):
    """A customer from the server (server_id set) or created offline here (not yet)."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_phone", "phone"), Index("ix_customers_name", "name"))

    local_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    server_id: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    credit_limit: Mapped[Decimal] = mapped_column(default=ZERO)
    balance: Mapped[Decimal] = mapped_column(default=ZERO)
    active: Mapped[bool] = mapped_column(default=True)
    # A business customer's GSTIN: the place of supply of a B2B sale.
    tax_number: Mapped[str] = mapped_column(String(40), default="")


class Setting(LocalBase):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class ReplicaRow(LocalBase):
    """Replicated data this till has no table for (branches, alerts, later kinds)."""

    __tablename__ = "replica_rows"

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)


# --- this till's own documents (ids are UUIDv7 made here) ---------------------------------


class Shift(LocalBase):
    __tablename__ = "shifts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cashier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opening_float: Mapped[Decimal] = mapped_column(default=ZERO)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    counted_cash: Mapped[Decimal | None] = mapped_column(nullable=True)
    expected_cash: Mapped[Decimal | None] = mapped_column(nullable=True)
    variance: Mapped[Decimal | None] = mapped_column(nullable=True)
    totals: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Sale(LocalBase):
    __tablename__ = "sales"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)
    shift_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    cashier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_local_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    subtotal: Mapped[Decimal]
    discount_total: Mapped[Decimal] = mapped_column(default=ZERO)
    tax_total: Mapped[Decimal] = mapped_column(default=ZERO)
    total: Mapped[Decimal]
    change_due: Mapped[Decimal] = mapped_column(default=ZERO)
    overrides: Mapped[Any] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="completed")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    # Set when the server answered applied/duplicate for the sale's event.
    synced_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SaleLine(LocalBase):
    __tablename__ = "sale_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(default=ZERO)
    tax: Mapped[Decimal] = mapped_column(default=ZERO)
    total: Mapped[Decimal]


class SalePayment(LocalBase):
    __tablename__ = "sale_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    method: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal]
    reference: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Return(LocalBase):
    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)
    original_sale_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    shift_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(200), default="")
    refunds: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    event_id: Mapped[str] = mapped_column(String(36))
    synced_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReturnLine(LocalBase):
    __tablename__ = "return_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), index=True)
    original_line_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    product_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal]
    amount: Mapped[Decimal]
    restock: Mapped[bool] = mapped_column(default=True)


class CashMovement(LocalBase):
    __tablename__ = "cash_movements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    shift_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    direction: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(200), default="")
    cashier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- sync ---------------------------------------------------------------------------------


class OutboxEvent(LocalBase):
    """An event still to be sent; seq is the device's order. Deleted only once acknowledged."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)  # the event envelope as JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The server rejected it: it waits in the server's dead letters, not in our pushes.
    rejected: Mapped[bool] = mapped_column(default=False)


class SyncState(LocalBase):
    """The one row of who this till is and how far it has synced."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    server_url: Mapped[str] = mapped_column(String(300), default="")
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_token: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device_name: Mapped[str] = mapped_column(String(80), default="")
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    branch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    branch_code: Mapped[str] = mapped_column(String(32), default="")
    receipt_prefix: Mapped[str] = mapped_column(String(24), default="")
    last_receipt_seq: Mapped[int] = mapped_column(default=0)
    cursor: Mapped[str] = mapped_column(String(200), default="0")
    snapshot_complete: Mapped[bool] = mapped_column(default=False)
    last_push_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_pull_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # When the server was last found unreachable with nothing reached since; kept across
    # restarts so "offline since" tells the truth after a till is switched off and on.
    offline_since: Mapped[datetime | None] = mapped_column(nullable=True)


class TaxDocument(LocalBase):
    """The tax side of a sale or return: buyer, place of supply, the invoice it credits."""

    __tablename__ = "tax_documents"

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # "invoice" or "credit_note"
    supply: Mapped[str] = mapped_column(String(8), default="intra")
    seller_state: Mapped[str] = mapped_column(String(2), default="")
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    buyer_gstin: Mapped[str] = mapped_column(String(15), default="")
    buyer_state: Mapped[str] = mapped_column(String(2), default="")
    original_document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class LineTaxRow(LocalBase):
    """A sale or return line's taxable value and components (common.tax.LineTax.to_wire)."""

    __tablename__ = "line_taxes"

    line_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    hsn: Mapped[str] = mapped_column(String(8), default="")
    detail: Mapped[Any] = mapped_column(JSON)
