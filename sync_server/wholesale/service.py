"""Sales requests: create, approve (stock out, on account, invoice number), reject, cancel."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import (
    Conflict,
    InsufficientStock,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from common.money import allocate, format_money, percent_of, round_money
from common.pricing import Channel as PriceChannel
from common.roles import Permission
from common.schemas.wholesale import ALLOWED_FROM as ALLOWED_FROM
from common.schemas.wholesale import APPROVED, CANCELLED, PENDING, REJECTED
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.credit import service as credit
from sync_server.credit.schemas import MAX_AMOUNT
from sync_server.db import lock_for_update, utcnow
from sync_server.documents.numbering import next_number
from sync_server.foundation.principal import Principal
from sync_server.inventory import ledger
from sync_server.org import service as org
from sync_server.org.models import Branch, Tenant
from sync_server.partners.models import Customer
from sync_server.pricing import coupons
from sync_server.pricing import service as pricing
from sync_server.purchasing import notify
from sync_server.purchasing.service import currency
from sync_server.tax import service as tax
from sync_server.wholesale.models import SalesRequest, SalesRequestLine
from sync_server.wholesale.schemas import SalesRequestCreate

REFERENCE_TYPE = "sales_request"
ZERO = Decimal("0")


def _check(request: SalesRequest, action: str) -> None:
    if request.status not in ALLOWED_FROM[action]:
        verb = {"invoice": "invoiced", "cancel": "cancelled"}.get(action, f"{action}d")
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        raise InvalidState(
            f"Sales request {request.number} is {request.status}; it can be {verb} only when "
            f"{allowed}.",
            status_now=request.status,
        )


def snapshot(request: SalesRequest) -> dict[str, Any]:
    """Return the audit picture of a sales request."""
    return {
        "number": request.number,
        "status": request.status,
        "customer_id": request.customer_id,
        "branch_id": request.branch_id,
        "payment_terms": request.payment_terms,
        "total": request.total,
        "invoice_number": request.invoice_number,
        "lines": [
            {"product_id": x.product_id, "quantity": x.quantity, "unit_price": x.unit_price}
            for x in request.lines
        ],
    }


def get_request(session: Session, *, tenant_id: int, request_id: int) -> SalesRequest:
    """Return a sales request of the tenant or NotFound."""
    request = session.get(SalesRequest, request_id)
    if request is None or request.tenant_id != tenant_id:
        raise NotFound(f"There is no sales request with id {request_id}.")
    return request


def visible_request(session: Session, *, actor: Principal, request_id: int) -> SalesRequest:
    """Return a request the caller may see: their tenant's, and one of their branches'."""
    request = get_request(session, tenant_id=actor.tenant_id, request_id=request_id)
    if not actor.may_use_branch(request.branch_id):
        raise PermissionDenied("You may not see requests of this branch.")
    return request


def lock_request(session: Session, *, tenant_id: int, request_id: int) -> SalesRequest:
    """Return the request locked and freshly read, so racing deciders see each other's work."""
    request = session.scalar(
        lock_for_update(
            select(SalesRequest).where(
                SalesRequest.id == request_id, SalesRequest.tenant_id == tenant_id
            ),
            session,
        ).execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound(f"There is no sales request with id {request_id}.")
    return request


def _price(request: SalesRequest, cur: str) -> None:
    """Work out every line's gross, discounts, tax and total, and the request's totals.

    The order discount is spread over the lines in proportion to what is left of each after
    its own discount, so tax is charged on what the customer actually pays.
    """
    after_line = []
    for line in request.lines:
        line.gross = round_money(line.quantity * line.unit_price, cur)
        # Manual discounts come after the pricing engine's, on what it left.
        left = line.gross - (line.promo_discount or ZERO)
        after_line.append(left - percent_of(left, line.discount_percent, cur))
    subtotal = sum(after_line, ZERO)
    order_discount = percent_of(subtotal, request.order_discount_percent, cur)
    shares = allocate(order_discount, after_line, cur)
    for line, net, share in zip(request.lines, after_line, shares, strict=True):
        line.net = net - share
        if line.tax_detail is not None:
            # Components chosen for the place of supply when the line was made; rounded per
            # component by common.tax, like every other document.
            taxed = tax.exclusive_again(line.tax_detail, amount=line.net, currency=cur)
            line.tax, line.tax_detail = taxed.tax, taxed.to_wire()
        else:
            line.tax = percent_of(line.net, line.tax_rate, cur)
        line.total = line.net + line.tax
    request.gross_total = sum((x.gross for x in request.lines), ZERO)
    request.discount_total = request.gross_total - sum((x.net for x in request.lines), ZERO)
    request.tax_total = sum((x.tax for x in request.lines), ZERO)
    request.total = sum((x.total for x in request.lines), ZERO)
    if request.gross_total > MAX_AMOUNT:
        raise ValidationFailed(f"A sales request may total at most {MAX_AMOUNT}.")


def _promote(
    session: Session,
    *,
    request: SalesRequest,
    products: dict[int, Product],
    by_hand: set[int],
    customer_group: str | None,
    codes: list[str],
    cur: str,
) -> dict[str, int]:
    """Price the lines at catalog price with the shared engine (price lists, promotions).

    A line the seller priced by hand is the seller's: the engine leaves it alone.
    """
    engine = [x for x in request.lines if x.product_id not in by_hand]
    if not engine:
        return {}
    priced = pricing.price_lines(
        session,
        tenant_id=request.tenant_id,
        lines=[
            pricing.product_line(
                line_id=str(n), product=products[x.product_id], quantity=x.quantity
            )
            for n, x in enumerate(engine)
        ],
        ctx=pricing.context(
            session,
            tenant_id=request.tenant_id,
            channel=PriceChannel.WHOLESALE,
            branch_id=request.branch_id,
            customer_id=request.customer_id,
            customer_group=customer_group,
            coupon_codes=frozenset(codes),
        ),
        currency=cur,
    )
    for line, result in zip(engine, priced.lines, strict=True):
        line.unit_price = result.unit_price
        line.promo_discount = result.discount
    return {a.coupon_code: a.promotion_id for a in priced.applied if a.coupon_code}


def create(session: Session, *, actor: Principal, data: SalesRequestCreate) -> SalesRequest:
    """Record a wholesale request and ask the approvers to decide on it."""
    customer = session.get(Customer, data.customer_id)
    if customer is None or customer.tenant_id != actor.tenant_id:
        raise NotFound(f"There is no customer with id {data.customer_id}.")
    if not customer.active:
        raise Conflict(f"Customer {customer.name} is inactive.")
    branch = session.get(Branch, data.branch_id)
    if branch is None or branch.tenant_id != actor.tenant_id:
        raise NotFound(f"There is no branch with id {data.branch_id}.")
    if not actor.may_use_branch(branch.id):
        raise PermissionDenied("You may not act for this branch.")
    ids = [x.product_id for x in data.lines]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("Each product may appear on one line only.")
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.tenant_id == actor.tenant_id, Product.id.in_(ids))
        )
    }
    missing = [i for i in ids if i not in products]
    if missing:
        raise NotFound(f"There is no product with id {missing[0]}.")
    codes = coupons.check_online(
        session, tenant_id=actor.tenant_id, codes=data.coupon_codes, customer_id=customer.id
    )
    number = next_number(session, tenant_id=actor.tenant_id, scope="sales_request")
    request = SalesRequest(
        tenant_id=actor.tenant_id,
        number=f"SR-{number:06d}",
        customer_id=customer.id,
        branch_id=branch.id,
        status=PENDING,
        payment_terms=data.payment_terms,
        order_discount_percent=data.order_discount_percent,
        notes=data.notes,
        created_by=actor.user_id,
        created_by_name=actor.label,
    )
    supply = tax.order_supply(branch=branch, customer=customer)
    for x in data.lines:
        product = products[x.product_id]
        request.lines.append(
            SalesRequestLine(
                tenant_id=actor.tenant_id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                quantity=x.quantity,
                unit_price=product.price if x.unit_price is None else x.unit_price,
                discount_percent=x.discount_percent,
                tax_rate=product.tax_rate,
                tax_detail=tax.components_template(session, product=product, supply=supply),
                hsn=product.hsn,
            )
        )
    applied = _promote(
        session,
        request=request,
        products=products,
        by_hand={x.product_id for x in data.lines if x.unit_price is not None},
        customer_group=customer.price_group,
        codes=codes,
        cur=currency(session, actor.tenant_id),
    )
    _price(request, currency(session, actor.tenant_id))
    session.add(request)
    session.flush()
    coupons.record_online(
        session,
        tenant_id=actor.tenant_id,
        codes=codes,
        applied=applied,
        document=f"sales_request:{request.id}",
        customer_id=customer.id,
    )
    audit.record(
        session,
        actor=actor.actor,
        action="sales_request.created",
        entity_type="sales_request",
        entity_id=request.id,
        after=snapshot(request),
    )
    notify.send(
        session,
        tenant_id=request.tenant_id,
        event="sales_request.approval_requested",
        subject=f"Sales request {request.number} needs approval",
        body=f"{actor.label} asks to approve {request.number} for {customer.name}: "
        f"{format_money(request.total, currency(session, request.tenant_id))}.",
        payload={"sales_request_id": request.id, "number": request.number, "total": request.total},
        branch_id=request.branch_id,
        roles=notify.approvers(Permission.SALES_REQUESTS_APPROVE),
    )
    return request


def _decide(actor: Principal, request: SalesRequest) -> None:
    if request.created_by is not None and request.created_by == actor.user_id:
        raise PermissionDenied("You created this sales request; someone else must decide on it.")
    if not actor.may_use_branch(request.branch_id):
        raise PermissionDenied("You may not act for this branch.")


def _take_stock(session: Session, *, actor: Principal, request: SalesRequest) -> None:
    """Deduct every line from the branch, or refuse naming the shortage of each line."""
    wanted: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in request.lines:
        wanted[line.product_id] += line.quantity
    short = []
    # Every level in one statement, in the global order: approvals never deadlock.
    levels = ledger.lock_levels(
        session,
        tenant_id=request.tenant_id,
        keys=[(request.branch_id, product_id) for product_id in wanted],
    )
    for product_id in sorted(wanted):
        level = levels[(request.branch_id, product_id)]
        if level.available < wanted[product_id]:
            short.append(
                ledger.shortage(
                    product_id=product_id, requested=wanted[product_id], available=level.available
                )
            )
    if short:
        raise InsufficientStock(
            f"Not enough stock at the branch for {len(short)} line(s) of {request.number}.",
            lines=short,
        )
    for line in request.lines:
        ledger.record_movement(
            session,
            actor=actor.actor,
            branch_id=request.branch_id,
            product_id=line.product_id,
            code=MovementCode.SALE,
            quantity=-line.quantity,
            reference_type=REFERENCE_TYPE,
            reference_id=str(request.id),
        )


def approve(session: Session, *, actor: Principal, request_id: int, comment: str) -> SalesRequest:
    """Approve: stock out, charge the account if on credit, number the invoice; all or nothing."""
    request = lock_request(session, tenant_id=actor.tenant_id, request_id=request_id)
    _check(request, "approve")
    _decide(actor, request)
    _take_stock(session, actor=actor, request=request)
    branch = session.get(Branch, request.branch_id)
    assert branch is not None
    # The counter row stays locked to commit: a failed approval gives its number back.
    seq = next_number(session, tenant_id=request.tenant_id, scope=f"invoice:{branch.id}")
    request.invoice_number = f"INV-{branch.code}-{seq:06d}"
    request.invoiced_at = utcnow()
    if request.payment_terms == "account" and request.total > 0:
        entry = credit.charge(
            session,
            actor=actor.actor,
            customer_id=request.customer_id,
            amount=request.total,
            reference_type="invoice",
            reference_id=request.invoice_number,
            allow_over_limit=False,
        )
        request.credit_entry_id = entry.id
    request.status = APPROVED
    request.decided_by, request.decided_by_name = actor.user_id, actor.label
    request.decided_at, request.decision_comment = utcnow(), comment
    _transition(session, actor=actor, request=request, action="approved", comment=comment)
    _tell_creator(session, request=request, verb="approved")
    return request


def reject(session: Session, *, actor: Principal, request_id: int, comment: str) -> SalesRequest:
    """Reject a pending request with a reason."""
    request = lock_request(session, tenant_id=actor.tenant_id, request_id=request_id)
    _check(request, "reject")
    _decide(actor, request)
    request.status = REJECTED
    request.decided_by, request.decided_by_name = actor.user_id, actor.label
    request.decided_at, request.decision_comment = utcnow(), comment
    _transition(session, actor=actor, request=request, action="rejected", comment=comment)
    _tell_creator(session, request=request, verb="rejected")
    return request


def cancel(session: Session, *, actor: Principal, request_id: int) -> SalesRequest:
    """Withdraw a request that nobody has decided on yet."""
    request = lock_request(session, tenant_id=actor.tenant_id, request_id=request_id)
    _check(request, "cancel")
    if not actor.may_use_branch(request.branch_id):
        raise PermissionDenied("You may not act for this branch.")
    request.status = CANCELLED
    _transition(session, actor=actor, request=request, action="cancelled")
    return request


def _transition(
    session: Session, *, actor: Principal, request: SalesRequest, action: str, comment: str = ""
) -> None:
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action=f"sales_request.{action}",
        entity_type="sales_request",
        entity_id=request.id,
        before={"status": PENDING},
        after={**snapshot(request), "comment": comment},
    )


def _tell_creator(session: Session, *, request: SalesRequest, verb: str) -> None:
    notify.send(
        session,
        tenant_id=request.tenant_id,
        event=f"sales_request.{verb}",
        subject=f"Sales request {request.number} was {verb}",
        body=f"{request.decided_by_name} {verb} {request.number}. "
        f"{request.decision_comment}".strip(),
        payload={
            "sales_request_id": request.id,
            "number": request.number,
            "status": request.status,
            "invoice_number": request.invoice_number,
            "creator_id": request.created_by,
        },
        branch_id=request.branch_id,
        **notify.to_creator(session, user_id=request.created_by),
    )


def _seller(session: Session, *, tenant: Tenant, branch: Branch) -> dict[str, Any]:
    """Return the seller as the invoice names it: the shop's profile and the branch's GSTIN."""
    profile = org.get_settings(session, tenant_id=tenant.id)
    address = ", ".join(p for p in (branch.address, branch.city) if p)
    return {
        "id": tenant.id,
        "name": profile.get("trade_name") or tenant.name,
        "legal_name": profile.get("legal_name") or "",
        "address": address,
        "tax_number": branch.gstin,
        "state": f"{branch.state_code}-{branch.state}" if branch.state_code else branch.state,
    }


def invoice(session: Session, *, tenant_id: int, request_id: int) -> dict[str, Any]:
    """Return the invoice of an approved request."""
    request = get_request(session, tenant_id=tenant_id, request_id=request_id)
    _check(request, "invoice")
    tenant = session.get(Tenant, tenant_id)
    branch = session.get(Branch, request.branch_id)
    customer = session.get(Customer, request.customer_id)
    assert tenant is not None and branch is not None and customer is not None
    return {
        "invoice_number": request.invoice_number,
        "invoiced_at": request.invoiced_at,
        "sales_request_id": request.id,
        "currency": currency(session, tenant_id),
        "seller": _seller(session, tenant=tenant, branch=branch),
        "branch": f"{branch.name} ({branch.code})",
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "address": customer.address,
            "tax_number": customer.tax_number,
        },
        "payment_terms": request.payment_terms,
        "lines": request.lines,
        "gross_total": request.gross_total,
        "discount_total": request.discount_total,
        "tax_total": request.tax_total,
        "total": request.total,
    }
