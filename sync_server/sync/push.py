"""Apply a device's pushed events exactly once, each in its own savepoint."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from common.clock import CLOCK_SKEW_LIMIT_SECONDS, describe_skew
from common.errors import DomainError, NotFound
from common.sync.protocol import (
    CashMovement,
    CustomerCreated,
    Event,
    EventType,
    PaymentOnAccount,
    PushResult,
    PushStatus,
    ReturnRecorded,
    SaleCompleted,
    SaleVoided,
    ShiftClosed,
    ShiftOpened,
    StockCountEntered,
)
from sync_server.alerts import service as alerts
from sync_server.audit import service as audit
from sync_server.auth.models import User
from sync_server.db import (
    append_row,
    buffered_appends,
    is_lock_conflict,
    one_flush_at_end,
    utcnow,
)
from sync_server.foundation.principal import Actor, Principal
from sync_server.inventory.ledger import prepare_batch
from sync_server.partners.models import Customer
from sync_server.partners.service import publish_customer
from sync_server.pricing import coupons
from sync_server.sales import service as sales
from sync_server.sales.models import Return, Sale, SaleLine
from sync_server.sync import devices, programs_intake
from sync_server.sync.models import CustomerLink, DeadLetter, Device, ReceivedEvent

# How stale a device's last_seen_at may get before a push writes it again.
LAST_SEEN_STEP = timedelta(seconds=60)

# Built once, as every push asks it: the batch's events the server received already.
_RECEIVED = select(ReceivedEvent).where(
    ReceivedEvent.tenant_id == bindparam("tenant_id"),
    ReceivedEvent.event_id.in_(bindparam("event_ids", expanding=True)),
)

# A batch that loses a deadlock is tried again here first (cheaper than rerunning the
# request, which the retry middleware would do next).
ATTEMPTS = 4


def push(session: Session, *, principal: Principal, events: list[Event]) -> list[PushResult]:
    """Apply a batch in device order; answer applied, duplicate or rejected per event.

    The batch shares one transaction, so a deadlock victim is rolled back whole and applied
    again from the start: nothing of the failed try stays, and event ids keep it exactly once.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _push(session, principal=principal, events=events)
        except DBAPIError as exc:
            if attempt == ATTEMPTS or not is_lock_conflict(exc):
                raise
            session.rollback()
            time.sleep(random.uniform(0, 0.02 * attempt))
    raise AssertionError("unreachable")


def check_clock(
    session: Session, *, principal: Principal, sent_at: datetime | None
) -> float | None:
    """Compare the till's clock with ours; tell managers when it is wrong, not just drifting.

    Sales keep the till's time (the receipt the customer holds says it) and the server's
    own receipt time beside it, so a report can be checked against either.
    """
    if sent_at is None:
        return None
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    skew = (sent_at - utcnow()).total_seconds()
    if abs(skew) > CLOCK_SKEW_LIMIT_SECONDS:
        device = session.get(Device, principal.device_id)
        assert device is not None  # the credential resolved to it in this request
        alerts.raise_alert(
            session,
            tenant_id=device.tenant_id,
            kind="clock_skew",
            branch_id=device.branch_id,
            details={
                "device_id": device.id,
                "device_name": device.name,
                "skew_seconds": round(skew),
                "message": (
                    f"Till {device.name}'s clock is {describe_skew(skew)} the server's: its "
                    "receipts and shifts carry that time. Set the till's date and time."
                ),
            },
        )
    return round(skew, 1)


def _stock_products(session: Session, *, tenant_id: int, events: list[Event]) -> list[int]:
    """Return the products whose levels the batch's sales, voids, returns and counts move."""
    products: set[int] = set()
    voided = [
        event.payload.get("sale_id")
        for event in events
        if event.type == EventType.SALE_VOIDED and isinstance(event.payload, dict)
    ]
    voided = [sale_id for sale_id in voided if isinstance(sale_id, str)]
    if voided:
        # A void moves the stored sale's lines back: the payload names only the sale.
        products.update(
            session.scalars(
                select(SaleLine.product_id)
                .join(Sale, Sale.id == SaleLine.sale_id)
                .where(Sale.tenant_id == tenant_id, Sale.uuid.in_(voided))
            )
        )
    for event in events:
        if event.type not in (
            EventType.SALE_COMPLETED,
            EventType.RETURN_RECORDED,
            EventType.STOCK_COUNT_ENTERED,
        ):
            continue
        # Read from the raw payload (validating it twice would cost); push_one still
        # validates each event and rejects a bad one with its reason.
        lines = event.payload.get("lines") if isinstance(event.payload, dict) else None
        for line in lines if isinstance(lines, list) else []:
            product_id = line.get("product_id") if isinstance(line, dict) else None
            if isinstance(product_id, int) and not isinstance(product_id, bool):
                products.add(product_id)
    return sorted(products)


def _push(session: Session, *, principal: Principal, events: list[Event]) -> list[PushResult]:
    device = session.get(Device, principal.device_id)
    assert device is not None  # the credential resolved to it in this request
    # A kept principal (devices.DEVICE_CACHE_SECONDS) was not read now: its row just was.
    devices.refuse_revoked(device)
    now = utcnow()
    if device.last_seen_at is None or now - device.last_seen_at >= LAST_SEEN_STEP:
        # To the minute: a till pushing every few seconds need not write its device row
        # on every push (an UPDATE, and a row lock every push of the till waits for).
        device.last_seen_at = now
    # Customers made offline come first: a sale on account in the same batch needs them.
    order = sorted(range(len(events)), key=lambda i: events[i].type != EventType.CUSTOMER_CREATED)
    # One query finds the events a lost answer makes the till send again.
    seen = {
        row.event_id: row
        for row in session.scalars(
            _RECEIVED, {"tenant_id": device.tenant_id, "event_ids": [e.id for e in events]}
        )
    }
    # Events lock levels in device order, and the batch holds them to commit: lock them all
    # first in product order, the order every other stock writer uses, so pushes, orders
    # and workflows meet without deadlocks.
    fresh = [event for event in events if event.id not in seen]
    products = _stock_products(session, tenant_id=device.tenant_id, events=fresh)
    # Only rows that exist are locked: the ids come from unchecked payloads, and a product's
    # first movement creates its row (a rare race there is retried like any deadlock).
    # The products' facts and lots are read here once for the whole batch.
    prepare_batch(
        session, tenant_id=device.tenant_id, branch_id=device.branch_id, product_ids=products
    )
    results: dict[int, PushResult] = {}
    fresh_order = [i for i in order if events[i].id not in seen]
    together = apply_together(session, device=device, events=[events[i] for i in fresh_order])
    if together is not None:
        results.update(zip(fresh_order, together, strict=True))
    for i in order:
        earlier = seen.get(events[i].id)
        if earlier is not None:
            results[i] = _answer_seen(earlier)
        elif i not in results:
            results[i] = push_one(session, device=device, event=events[i])
    return [results[i] for i in range(len(events))]


# What makes an event unusable (rejected with its reason); anything else fails the batch.
_EVENT_ERRORS = (
    IntegrityError,
    ValidationError,
    DomainError,
    ValueError,
    TypeError,
    ArithmeticError,
    KeyError,
)


def apply_together(
    session: Session, *, device: Device, events: list[Event]
) -> list[PushResult] | None:
    """Apply fresh events in one savepoint: the common case, where none of them fails.

    A savepoint per event costs two statements and a flush each, and keeps every event's
    audit entries and feed changes in statements of their own. When any event fails, the
    savepoint drops them all and None sends each through push_one, in its own savepoint,
    which rejects the bad one with its reason: what is stored is what push_one alone
    stores (tests/server/test_push_batch_equivalence.py).
    """
    if not events or any(event.device_id != device.id for event in events):
        return None
    answers = []
    try:
        # A constraint any of them breaks fires at the one flush, inside the savepoint.
        with (
            session.begin_nested(),
            buffered_appends(session),
            one_flush_at_end(session),
            sales.sales_written_together(session),
        ):
            # Their stock alerts are read once, in this savepoint, and followed in memory.
            alerts.note_batch(
                session,
                tenant_id=device.tenant_id,
                branch_id=device.branch_id,
                product_ids=_stock_products(session, tenant_id=device.tenant_id, events=events),
            )
            for event in events:
                extra = _claim_and_apply(session, device=device, event=event, flush=False)
                answers.append(PushResult(id=event.id, status=PushStatus.APPLIED, **(extra or {})))
    except _EVENT_ERRORS:
        return None
    return answers


def _claim_and_apply(
    session: Session, *, device: Device, event: Event, flush: bool
) -> dict[str, Any] | None:
    """Record the event as received and apply it (in the caller's savepoint)."""
    if not flush:
        # In a batch the claim is an append like its audit entries and feed changes: its
        # unique event id fires when the batch's appends go out, inside the savepoint.
        with buffered_appends(session):
            extra = apply_event(session, device=device, event=event)
        claim: dict[str, Any] = {
            "tenant_id": device.tenant_id,
            "event_id": event.id,
            "device_id": device.id,
            "type": str(event.type),
            "status": "applied",
            "occurred_at": event.occurred_at,
        }
        if extra:
            claim["result"] = extra
        append_row(session, ReceivedEvent, claim)
        return extra
    received = ReceivedEvent(
        tenant_id=device.tenant_id,
        event_id=event.id,
        device_id=device.id,
        type=str(event.type),
        status="applied",
        occurred_at=event.occurred_at,
    )
    session.add(received)
    # Claim the event id first: a concurrent push of the same event waits here.
    session.flush()
    # Its audit entries and feed changes go out set-based (one insert per table).
    with buffered_appends(session):
        extra = apply_event(session, device=device, event=event)
    if extra:
        # Only then: assigning None again would cost an UPDATE per event.
        received.result = extra
    return extra


def push_one(session: Session, *, device: Device, event: Event) -> PushResult:
    """Apply one event in a savepoint; a failure rolls back only this event."""
    if event.device_id != device.id:
        return _reject(
            session, device=device, event=event, reason="The event names another device."
        )
    try:
        with session.begin_nested():
            extra = _claim_and_apply(session, device=device, event=event, flush=True)
    except IntegrityError as exc:
        seen = _received(session, tenant_id=device.tenant_id, event_id=event.id)
        if seen is not None:
            return _answer_seen(seen)
        reason = _integrity_reason(exc)
        if (twin := _same_device_twin(session, device=device, event=event)) is not None:
            reason = (
                f"receipt number {twin} was already used by this till for another sale: two "
                "machines "
                "are running this till's data (a copied disk or an old backup). Re-enrol one."
            )
            _alert_cloned(session, device=device, receipt_number=twin, event=event)
        return _reject(session, device=device, event=event, reason=reason)
    except ValidationError as exc:
        return _reject(session, device=device, event=event, reason=f"invalid payload: {exc}")
    except DomainError as exc:
        return _reject(session, device=device, event=event, reason=exc.detail)
    except (ValueError, TypeError, ArithmeticError, KeyError) as exc:
        # Bad data inside an otherwise valid event: reject it rather than fail the batch,
        # or the till would resend the same poisoned batch forever.
        return _reject(session, device=device, event=event, reason=f"unusable data: {exc}")
    return PushResult(id=event.id, status=PushStatus.APPLIED, **(extra or {}))


def _received(session: Session, *, tenant_id: int, event_id: str) -> ReceivedEvent | None:
    return session.scalar(
        select(ReceivedEvent).where(
            ReceivedEvent.tenant_id == tenant_id, ReceivedEvent.event_id == event_id
        )
    )


def _answer_seen(seen: ReceivedEvent) -> PushResult:
    if seen.status == "rejected":
        return PushResult(id=seen.event_id, status=PushStatus.REJECTED, reason=seen.reason)
    return PushResult(id=seen.event_id, status=PushStatus.DUPLICATE, **(seen.result or {}))


def _same_device_twin(session: Session, *, device: Device, event: Event) -> str | None:
    """Return the receipt number if this device already used it for a different document.

    A till numbers its receipts in its own series, so the same device sending two different
    documents under one number means two machines hold its data: a cloned disk or VM, or a
    machine restored from an old backup that is selling again.
    """
    payload = event.payload
    number = payload.get("receipt_number")
    uuid = payload.get("sale_id") or payload.get("return_id")
    if not number or not uuid:
        return None
    for model in (Sale, Return):
        holder = session.execute(
            select(model.uuid, model.device_id).where(
                model.tenant_id == device.tenant_id, model.receipt_number == number
            )
        ).first()
        if holder is not None and holder.device_id == device.id and holder.uuid != uuid:
            return str(number)
    return None


def _alert_cloned(session: Session, *, device: Device, receipt_number: str, event: Event) -> None:
    """Tell managers that one till identity is in use on two machines."""
    alerts.raise_alert(
        session,
        tenant_id=device.tenant_id,
        kind="device_cloned",
        branch_id=device.branch_id,
        details={
            "device_id": device.id,
            "device_name": device.name,
            "receipt_number": receipt_number,
            "event_id": event.id,
            "message": (
                f"Till {device.name} sent a second, different sale numbered {receipt_number}. "
                "Two machines are running this till's data (a copied disk or an old backup). "
                "Their sales are kept as dead letters; re-enrol one of the machines."
            ),
        },
    )


def _integrity_reason(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "receipt_number" in text:
        return "receipt number already used by another document"
    return "conflicts with data already on the server"


def _reject(session: Session, *, device: Device, event: Event, reason: str) -> PushResult:
    reason = reason[:500]
    session.add(
        ReceivedEvent(
            tenant_id=device.tenant_id,
            event_id=event.id,
            device_id=device.id,
            type=str(event.type),
            status="rejected",
            reason=reason,
            occurred_at=event.occurred_at,
        )
    )
    letter = DeadLetter.of(device=device, event=event, kind=str(event.type), reason=reason)
    session.add(letter)
    session.flush()
    audit.record(
        session,
        actor=_actor(session, device=device, cashier_id=None),
        action="sync.event_rejected",
        entity_type="dead_letter",
        entity_id=letter.id,
        after={"event_id": event.id, "type": str(event.type), "reason": reason},
    )
    return PushResult(id=event.id, status=PushStatus.REJECTED, reason=reason)


def _actor(session: Session, *, device: Device, cashier_id: int | None) -> Actor:
    user_id = None
    if cashier_id is not None:
        user = session.get(User, cashier_id)
        # A cashier id from another tenant is ignored rather than trusted.
        if user is not None and user.tenant_id == device.tenant_id:
            user_id = user.id
    return Actor(
        tenant_id=device.tenant_id,
        user_id=user_id,
        label=f"device:{device.name}",
        device_id=device.id,
    )


def _customer_id(
    session: Session, *, device: Device, customer_id: int | None, local_id: str | None
) -> int | None:
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.tenant_id != device.tenant_id:
            raise NotFound(f"Customer {customer_id} does not exist.")
        return customer.id
    if local_id is None:
        return None
    link = session.scalar(
        select(CustomerLink).where(
            CustomerLink.tenant_id == device.tenant_id, CustomerLink.local_id == local_id
        )
    )
    if link is None:
        raise NotFound(f"The customer created offline ({local_id}) has not reached the server.")
    return link.customer_id


def _redeem_coupons(
    session: Session,
    *,
    device: Device,
    event: Event,
    payload: SaleCompleted,
    customer_id: int | None,
) -> None:
    """Record the sale's coupon uses; keep each use beyond a limit as a dead letter."""
    over_limit = coupons.redeem(
        session,
        tenant_id=device.tenant_id,
        device_id=device.id,
        payload=payload,
        customer_id=customer_id,
    )
    for reason in over_limit:
        session.add(
            DeadLetter.of(device=device, event=event, kind=coupons.OVER_LIMIT, reason=reason)
        )
    if over_limit:
        session.flush()


def apply_event(session: Session, *, device: Device, event: Event) -> dict[str, Any] | None:
    """Apply one event's payload; return extra fields for the push answer."""
    payload = event.parsed()
    if not (isinstance(payload, SaleCompleted) and sales.may_wait(payload)):
        # Anything but a plain sale may read the sales a batch has not written yet.
        sales.write_waiting_sales(session)
    branch_id = device.branch_id
    at = event.occurred_at
    if isinstance(payload, CustomerCreated):
        return create_customer(session, device=device, payload=payload)
    cashier = getattr(payload, "cashier_id", None)
    actor = _actor(session, device=device, cashier_id=cashier)
    if isinstance(payload, SaleCompleted):
        cid = _customer_id(
            session,
            device=device,
            customer_id=payload.customer_id,
            local_id=payload.customer_local_id,
        )
        sales.record_sale(
            session,
            actor=actor,
            branch_id=branch_id,
            payload=payload,
            customer_id=cid,
            occurred_at=at,
        )
        if payload.coupon_codes:
            _redeem_coupons(session, device=device, event=event, payload=payload, customer_id=cid)
    elif isinstance(payload, SaleVoided):
        sales.void_sale(session, actor=actor, branch_id=branch_id, payload=payload)
    elif isinstance(payload, ReturnRecorded):
        cid = _customer_id(
            session,
            device=device,
            customer_id=payload.customer_id,
            local_id=payload.customer_local_id,
        )
        sales.record_return(
            session,
            actor=actor,
            branch_id=branch_id,
            payload=payload,
            customer_id=cid,
            occurred_at=at,
        )
    elif isinstance(payload, PaymentOnAccount):
        cid = _customer_id(
            session,
            device=device,
            customer_id=payload.customer_id,
            local_id=payload.customer_local_id,
        )
        if cid is None:
            raise NotFound("A payment on account needs a customer.")
        sales.record_payment_on_account(
            session,
            actor=actor,
            customer_id=cid,
            amount=payload.amount,
            method=str(payload.method),
            ref=payload.payment_id,
        )
    elif isinstance(payload, CashMovement):
        sales.record_cash_movement(
            session, actor=actor, branch_id=branch_id, payload=payload, occurred_at=at
        )
    elif isinstance(payload, ShiftOpened):
        sales.open_shift(session, actor=actor, branch_id=branch_id, payload=payload, occurred_at=at)
    elif isinstance(payload, ShiftClosed):
        sales.close_shift(
            session, actor=actor, branch_id=branch_id, payload=payload, occurred_at=at
        )
    elif isinstance(payload, StockCountEntered):
        sales.record_count(
            session, actor=actor, branch_id=branch_id, payload=payload, occurred_at=at
        )
    # Gift card tenders and refunds, cards sold, held sales, e-receipts (one hook).
    programs_intake.apply(
        session,
        device=device,
        actor=actor,
        event=event,
        payload=payload,
        sale_customer_id=cid if isinstance(payload, SaleCompleted) else None,
    )
    return None


def create_customer(
    session: Session, *, device: Device, payload: CustomerCreated
) -> dict[str, Any]:
    """Give a customer made offline its server identity, merging with one that exists."""
    match = []
    if payload.phone:
        match.append(Customer.phone == payload.phone)
    if payload.email:
        match.append(func.lower(Customer.email) == payload.email.lower())
    existing = None
    if match:
        existing = session.scalars(
            select(Customer)
            .where(Customer.tenant_id == device.tenant_id, or_(*match))
            .order_by(Customer.id)
            .limit(1)
        ).first()
    actor = _actor(session, device=device, cashier_id=None)
    if existing is not None:
        customer, merged = existing, True
    else:
        customer = Customer(
            tenant_id=device.tenant_id, name=payload.name, phone=payload.phone, email=payload.email
        )
        session.add(customer)
        session.flush()
        merged = False
        publish_customer(session, customer)
    session.add(
        CustomerLink(
            tenant_id=device.tenant_id,
            local_id=payload.local_id,
            customer_id=customer.id,
            device_id=device.id,
            merged=merged,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="customer.merged_from_till" if merged else "customer.created_from_till",
        entity_type="customer",
        entity_id=customer.id,
        after={"local_id": payload.local_id, "name": payload.name, "merged": merged},
    )
    return {"customer_id": customer.id, "merged": merged}
