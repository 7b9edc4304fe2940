"""Quick sales: a scanner station looks up a code and sells one line as a server sale.

The sale is a proper sale document (sync_server.sales), numbered from a per-branch server
series ``<branch code>-S-000001``. Tills number theirs ``<branch code>-T<nn>-…``, so the two
series cannot meet; the unique receipt number constraint on sales is the guarantee.
Unlike a till sale (a fact from the past), a quick sale happens now, so it refuses to sell
stock the branch does not have.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from common.codes import QUANTITY_PLACES, Channel, MovementCode
from common.errors import DomainError, PermissionDenied, ValidationFailed
from common.ids import new_id
from common.money import round_money, tax_included
from sync_server.audit import service as audit
from sync_server.catalog import service as catalog
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.documents.numbering import next_number
from sync_server.foundation.principal import Principal
from sync_server.inventory import ledger
from sync_server.lookups import get_owned
from sync_server.orders import idempotency
from sync_server.orders.idempotency import Outcome
from sync_server.org.models import Branch
from sync_server.quicksale.schemas import QuickSaleCreate, QuickSaleRead, ScanRead
from sync_server.sales.models import Sale, SaleLine, SalePayment

# Idempotency keys share a table with online orders; the prefix keeps the two apart.
KEY_PREFIX = "quicksale:"


def resolve_branch(session: Session, *, principal: Principal, branch_id: int | None) -> Branch:
    """Return the branch the caller sells in: a device's own, or one the user names."""
    if principal.kind == "device":
        (own,) = principal.branch_ids
        if branch_id is not None and branch_id != own:
            raise PermissionDenied("A device sells only in its own branch.")
        branch_id = own
    elif branch_id is None:
        if len(principal.branch_ids) != 1:
            raise ValidationFailed("Name the branch to sell in with the branch_id parameter.")
        (branch_id,) = principal.branch_ids
    branch = get_owned(session, Branch, id=branch_id, tenant_id=principal.tenant_id, what="branch")
    if not principal.may_use_branch(branch.id):
        raise PermissionDenied(f"You may not sell in branch {branch.id}.")
    return branch


def _line(found: dict[str, Any], *, quantity: Decimal | None) -> tuple[Decimal, Decimal]:
    """Return (quantity, amount) of the line a scan makes, honouring price labels."""
    product: Product = found["product"]
    if quantity is None:
        quantity = found.get("quantity", Decimal("1"))
        if "embedded_price" in found:
            return quantity, round_money(found["embedded_price"])
    places = QUANTITY_PLACES.get(product.unit, 3)  # type: ignore[call-overload]
    if quantity != quantity.quantize(Decimal(1).scaleb(-places)):
        raise ValidationFailed(
            f"'{product.name}' is sold by the {product.unit} with at most {places} decimals."
        )
    return quantity, round_money(product.price * quantity)


def scan(
    session: Session, *, principal: Principal, barcode: str, branch_id: int | None
) -> ScanRead:
    """Describe what a scanned code sells for at the caller's branch and how much is there."""
    branch = resolve_branch(session, principal=principal, branch_id=branch_id)
    found = catalog.find_by_barcode(session, tenant_id=principal.tenant_id, code=barcode)
    product: Product = found["product"]
    quantity, amount = _line(found, quantity=None)
    level = ledger.level(
        session, tenant_id=principal.tenant_id, branch_id=branch.id, product_id=product.id
    )
    return ScanRead(
        branch_id=branch.id,
        scanned=found["scanned"],
        matched_code=found["matched_code"],
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        unit_price=product.price,
        tax_rate=product.tax_rate,
        quantity=quantity,
        amount=amount,
        on_hand=level.on_hand,
        available=level.available,
    )


def sell(
    session: Session,
    *,
    principal: Principal,
    barcode: str,
    branch_id: int | None,
    data: QuickSaleCreate,
    key: str,
    instance: str,
) -> Outcome:
    """Sell one scanned line once per Idempotency-Key; a retry gets the first answer.

    A refusal (short stock, unknown code) is an answer too: stored, and rolled back to the
    savepoint so nothing of it stays.
    """
    # Who may sell where is checked before the key is taken: a refusal of the caller is
    # not an answer to store.
    branch = resolve_branch(session, principal=principal, branch_id=branch_id)
    fingerprint = idempotency.request_hash(
        {"barcode": barcode, "branch_id": branch.id, **data.model_dump(mode="json")}
    )
    record_id, previous = idempotency.claim(
        session, tenant_id=principal.tenant_id, key=KEY_PREFIX + key, fingerprint=fingerprint
    )
    if previous is not None:
        return previous
    try:
        with session.begin_nested():
            body = _sell(session, principal=principal, barcode=barcode, branch=branch, data=data)
        outcome = Outcome(status=201, body=body.model_dump(mode="json"))
    except DomainError as exc:
        outcome = Outcome(status=exc.status, body=idempotency.problem_body(exc, instance=instance))
    idempotency.settle(session, record_id=record_id, outcome=outcome)
    return outcome


def _sell(
    session: Session,
    *,
    principal: Principal,
    barcode: str,
    branch: Branch,
    data: QuickSaleCreate,
) -> QuickSaleRead:
    tenant_id = principal.tenant_id
    found = catalog.find_by_barcode(session, tenant_id=tenant_id, code=barcode)
    product: Product = found["product"]
    if not product.active:
        raise ValidationFailed(f"'{product.name}' is no longer sold.")
    quantity, total = _line(found, quantity=data.quantity)
    tax = tax_included(total, product.tax_rate)
    number = next_number(session, tenant_id=tenant_id, scope=f"quicksale:{branch.id}")
    now = utcnow()
    sale = Sale(
        tenant_id=tenant_id,
        uuid=new_id(),
        receipt_number=f"{branch.code}-S-{number:06d}",
        channel=Channel.IN_STORE.value,
        branch_id=branch.id,
        device_id=principal.device_id,
        cashier_id=principal.user_id,
        subtotal=total,
        tax_total=tax,
        total=total,
        occurred_at=now,
        recorded_at=now,
    )
    sale.lines = [
        SaleLine(
            tenant_id=tenant_id,
            line_uuid=new_id(),
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            quantity=quantity,
            unit_price=product.price,
            tax_rate=product.tax_rate,
            tax=tax,
            total=total,
        )
    ]
    sale.payments = [
        SalePayment(tenant_id=tenant_id, payment_uuid=new_id(), method=data.tender, amount=total)
    ]
    session.add(sale)
    session.flush()
    ledger.record_movement(
        session,
        actor=principal.actor,
        branch_id=branch.id,
        product_id=product.id,
        code=MovementCode.SALE,
        quantity=-quantity,
        reference_type="sale",
        reference_id=sale.uuid,
        occurred_at=now,
        allow_negative=False,
    )
    audit.record(
        session,
        actor=principal.actor,
        action="sale.recorded",
        entity_type="sale",
        entity_id=sale.uuid,
        after={
            "receipt_number": sale.receipt_number,
            "branch_id": branch.id,
            "total": total,
            "lines": 1,
            "source": "quicksale",
            "barcode": found["scanned"],
            "quantity": quantity,
            "tender": data.tender,
        },
    )
    level = ledger.level(session, tenant_id=tenant_id, branch_id=branch.id, product_id=product.id)
    return QuickSaleRead(
        sale_id=sale.uuid,
        receipt_number=sale.receipt_number,
        branch_id=branch.id,
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        quantity=quantity,
        unit_price=product.price,
        tax=tax,
        total=total,
        tender=data.tender,
        available_after=level.available,
    )
