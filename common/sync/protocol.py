"""Wire schemas of till ↔ server sync: event envelopes, payloads, push and pull bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from common.ids import new_id
from common.schemas.base import (
    STRINGS_CHECKED,
    Amount,
    Id,
    JsonObject,
    NonNegativeAmount,
    Quantity,
    Schema,
)

# A push larger than this is refused; the till sends its outbox in batches below it.
MAX_PUSH_BATCH = 500
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 1000
# Device credentials carry this prefix so the server tells them from JWTs and API keys.
DEVICE_TOKEN_PREFIX = "spd_"


# A write's answer names the primary's WAL position after it; a client that sends it back on
# its next reads is served by a read replica only once the replica has replayed that far.
READ_AFTER_HEADER = "X-StockPilot-Read-After"


class EventType(StrEnum):
    SALE_COMPLETED = "sale.completed"
    SALE_VOIDED = "sale.voided"
    RETURN_RECORDED = "return.recorded"
    CUSTOMER_CREATED = "customer.created"
    PAYMENT_ON_ACCOUNT = "payment.on_account"
    CASH_MOVEMENT = "cash.movement"
    SHIFT_OPENED = "shift.opened"
    SHIFT_CLOSED = "shift.closed"
    STOCK_COUNT_ENTERED = "stock.count_entered"
    # Customer programs (payloads in common/sync/programs.py).
    GIFT_CARD_SOLD = "giftcard.sold"
    HELD_SALE_PARKED = "held_sale.parked"
    HELD_SALE_RECALLED = "held_sale.recalled"
    RECEIPT_EMAIL_REQUESTED = "receipt.email_requested"


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    ACCOUNT = "account"
    VOUCHER = "voucher"
    # A gift card or store credit held on the server; reference is the card number.
    GIFT_CARD = "gift_card"
    # Paid by UPI (QR on the customer display); reference is the UPI transaction reference.
    UPI = "upi"
    # Paid with loyalty points; reference is how many points.
    LOYALTY = "loyalty"


class Payload(Schema):
    """Base of every event payload; TYPE names the event it travels in."""

    TYPE: ClassVar[EventType]


class SaleLine(Schema):
    line_id: str
    product_id: Id
    sku: str
    name: str
    quantity: Quantity
    unit_price: Amount
    discount: NonNegativeAmount = Decimal("0")
    tax_rate: Amount = Decimal("0")
    tax: Amount = Decimal("0")
    total: Amount
    # Optional (newer tills): taxable value and components (common.tax.LineTax), HSN code.
    tax_detail: JsonObject | None = None
    hsn: str = Field(default="", max_length=8)
    # The lot the label said (GS1 AI 10); the server takes stock from it, else FEFO.
    lot: str | None = Field(default=None, min_length=1, max_length=20)

    @model_serializer(mode="wrap")
    def _without_empty_lot(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Sent only when there is one: a server from before lots refuses fields it lacks.
        data: dict[str, Any] = handler(self)
        if data.get("lot") is None:
            data.pop("lot", None)
        return data


class SalePayment(Schema):
    payment_id: str
    method: PaymentMethod
    amount: Amount
    reference: str | None = None


class Override(Schema):
    """A manager's approval given at the till (price change, big discount, credit limit)."""

    kind: str
    manager_id: Id | None = None
    detail: str = ""


class SaleCompleted(Payload):
    TYPE: ClassVar[EventType] = EventType.SALE_COMPLETED

    sale_id: str
    receipt_number: str = Field(min_length=1, max_length=40)
    branch_id: int
    shift_id: str | None = None
    cashier_id: int | None = None
    # A known customer has a server id; one created offline on this till only a local id.
    customer_id: int | None = None
    customer_local_id: str | None = None
    lines: list[SaleLine] = Field(min_length=1)
    payments: list[SalePayment] = Field(default_factory=list)
    subtotal: Amount
    discount_total: Amount = Decimal("0")
    tax_total: Amount = Decimal("0")
    total: Amount
    change_due: NonNegativeAmount = Decimal("0")
    overrides: list[Override] = Field(default_factory=list)
    completed_at: AwareDatetime | None = None
    # A business buyer's GSTIN and state code: the place of supply of a tax invoice.
    buyer_gstin: str = Field(default="", max_length=15)
    buyer_state: str = Field(default="", max_length=2)
    # Coupon codes whose promotions priced this sale (the server counts their uses).
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )


class SaleVoided(Payload):
    TYPE: ClassVar[EventType] = EventType.SALE_VOIDED

    sale_id: str
    reason: str = ""
    manager_id: int | None = None


class ReturnLine(Schema):
    line_id: str
    original_line_id: str | None = None
    product_id: Id
    quantity: Quantity
    amount: Amount
    restock: bool = True
    # Optional (newer tills): the tax this return credits (common.tax.credit_line).
    tax_detail: JsonObject | None = None


class Refund(Schema):
    refund_id: str
    method: PaymentMethod
    amount: Amount
    reference: str | None = None


class ReturnRecorded(Payload):
    TYPE: ClassVar[EventType] = EventType.RETURN_RECORDED

    return_id: str
    original_sale_id: str | None = None
    receipt_number: str = Field(min_length=1, max_length=40)
    branch_id: int
    shift_id: str | None = None
    cashier_id: int | None = None
    customer_id: int | None = None
    customer_local_id: str | None = None
    lines: list[ReturnLine] = Field(min_length=1)
    refunds: list[Refund] = Field(default_factory=list)
    total: Amount
    reason: str = ""


class CustomerCreated(Payload):
    TYPE: ClassVar[EventType] = EventType.CUSTOMER_CREATED

    local_id: str
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=40)
    email: str | None = Field(default=None, max_length=254)


class PaymentOnAccount(Payload):
    TYPE: ClassVar[EventType] = EventType.PAYMENT_ON_ACCOUNT

    payment_id: str
    customer_id: int | None = None
    customer_local_id: str | None = None
    branch_id: int
    shift_id: str | None = None
    method: PaymentMethod = PaymentMethod.CASH
    amount: Amount = Field(gt=0)
    reference: str | None = None


class CashMovement(Payload):
    TYPE: ClassVar[EventType] = EventType.CASH_MOVEMENT

    movement_id: str
    branch_id: int
    shift_id: str | None = None
    direction: Literal["in", "out"]
    amount: Amount = Field(gt=0)
    reason: str = ""
    cashier_id: int | None = None


class ShiftOpened(Payload):
    TYPE: ClassVar[EventType] = EventType.SHIFT_OPENED

    shift_id: str
    branch_id: int
    cashier_id: int | None = None
    opening_float: NonNegativeAmount = Decimal("0")
    opened_at: AwareDatetime | None = None


class ShiftClosed(Payload):
    TYPE: ClassVar[EventType] = EventType.SHIFT_CLOSED

    shift_id: str
    branch_id: int
    cashier_id: int | None = None
    counted_cash: Amount
    expected_cash: Amount
    variance: Amount
    totals: dict[str, Amount] = Field(default_factory=dict)
    closed_at: AwareDatetime | None = None


class CountLine(Schema):
    product_id: Id
    counted: Quantity


class StockCountEntered(Payload):
    TYPE: ClassVar[EventType] = EventType.STOCK_COUNT_ENTERED

    count_id: str
    branch_id: int
    lines: list[CountLine] = Field(min_length=1)
    counted_by: int | None = None


PAYLOADS: dict[EventType, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        SaleCompleted,
        SaleVoided,
        ReturnRecorded,
        CustomerCreated,
        PaymentOnAccount,
        CashMovement,
        ShiftOpened,
        ShiftClosed,
        StockCountEntered,
    )
}


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Event(Schema):
    """The envelope of one fact from a till; the id is made on the till and never reused."""

    id: str = Field(min_length=36, max_length=36)
    type: EventType
    occurred_at: AwareDatetime
    device_id: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    # The payload object whose every string validating this envelope checked (none when
    # the envelope was constructed, not validated).
    _checked_payload: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        import uuid

        return str(uuid.UUID(value))

    @model_validator(mode="after")
    def _note_checked(self) -> Event:
        self._checked_payload = self.payload
        return self

    @classmethod
    def wrap(
        cls, payload: Payload, *, device_id: str, occurred_at: datetime | None = None
    ) -> Event:
        """Put a payload in a new envelope with a fresh UUIDv7."""
        at = occurred_at or utc_now()
        body = payload.model_dump(mode="json")
        if (
            0 < len(device_id) <= 64
            and device_id == device_id.strip()
            and at.utcoffset() is not None
        ):
            # Every field is made here or dumped from the payload model: validating the
            # envelope again would only walk the payload's text a second time (a sale's
            # critical path). Anything else goes through full validation below.
            return cls.model_construct(
                id=new_id(), type=payload.TYPE, occurred_at=at, device_id=device_id, payload=body
            )
        return cls(
            id=new_id(), type=payload.TYPE, occurred_at=at, device_id=device_id, payload=body
        )

    def parsed(self) -> Payload:
        """Return the payload validated as its type's model (raises pydantic.ValidationError).

        Text the envelope's own validation checked is not walked again (a push's events
        were checked as the request body arrived): the rest of the validation is the same.
        """
        if self._checked_payload is self.payload:
            return PAYLOADS[self.type].model_validate(self.payload, context={STRINGS_CHECKED: True})
        return PAYLOADS[self.type].model_validate(self.payload)


# --- push ---------------------------------------------------------------------------------


class PushRequest(Schema):
    events: list[Event] = Field(min_length=1, max_length=MAX_PUSH_BATCH)
    # The till's clock when it sent the batch, so the server can tell a wrong clock.
    sent_at: datetime | None = None


class PushStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class PushResult(BaseModel):
    id: str
    status: PushStatus
    reason: str | None = None
    # customer.created: the server id the local customer now has, and whether it was merged
    # into a customer that already existed (same phone or email).
    customer_id: int | None = None
    merged: bool = False


class PushResponse(BaseModel):
    results: list[PushResult]
    # How far the till's clock is from the server's (positive: the till is ahead), if told.
    clock_skew_seconds: float | None = None


# --- pull ---------------------------------------------------------------------------------


class ChangeOp(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class PulledChange(BaseModel):
    """One replicated row: entity names the till table, key its server id."""

    entity: str
    key: str
    op: ChangeOp
    data: dict[str, Any] | None = None
    seq: int | None = None


class PullResponse(BaseModel):
    """A page of changes; cursor is opaque: store it and send it back as is.

    A plain integer is a position in the change feed; "0" asks for a full snapshot, whose
    pages carry snapshot cursors until the snapshot is done. reset tells the till to drop its
    replica before applying this page (first page of a snapshot). expired says why: the
    till's cursor was older than the change feed keeps (retention), so the server lost
    nothing and the till need not send again what it already sent.
    """

    changes: list[PulledChange]
    cursor: str
    has_more: bool
    reset: bool = False
    snapshot: bool = False
    expired: bool = False


# --- devices ------------------------------------------------------------------------------


class EnrolmentCodeCreate(Schema):
    branch_id: Id
    # How long the code may be used, in minutes.
    valid_minutes: int = Field(default=24 * 60, ge=1, le=30 * 24 * 60)


class EnrolmentCodeRead(BaseModel):
    code: str
    branch_id: int
    expires_at: datetime


class EnrolRequest(Schema):
    code: str = Field(min_length=4, max_length=64)
    name: str = Field(min_length=1, max_length=80)


class EnrolResponse(BaseModel):
    """The device credential is shown here once and never again."""

    device_id: str
    token: str
    tenant_id: int
    branch_id: int
    branch_code: str
    name: str
    receipt_prefix: str


class DeviceRead(BaseModel):
    id: str
    name: str
    branch_id: int
    receipt_prefix: str
    revoked: bool
    created_at: datetime
    last_seen_at: datetime | None = None


class DeviceRename(Schema):
    name: str = Field(min_length=1, max_length=80)


class DeadLetterRead(BaseModel):
    id: int
    event_id: str
    device_id: str
    type: str
    reason: str
    payload: dict[str, Any]
    received_at: datetime
    resolved: bool
    resolved_note: str | None = None


class DeadLetterResolve(Schema):
    note: str = Field(default="", max_length=500)
    # Apply the event now (its cause was fixed, e.g. the product was created) instead of
    # just closing the letter.
    retry: bool = False


# --- customer programs ----------------------------------------------------------------------
# Their payloads live in their own module; it needs Payload and EventType defined above.
from common.sync import programs as _programs  # noqa: E402

PAYLOADS.update(_programs.PAYLOADS)
