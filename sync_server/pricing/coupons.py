"""Coupon redemptions: count every use when sales arrive, and flag uses beyond the limits.

A till may redeem a coupon offline, so two tills can both redeem a single-use code before
either is heard from. The sale is a fact and is always kept; redeem says which uses went
beyond a limit, and sync (which received the sale) keeps each as a dead letter (type
"coupon.over_limit") that a manager resolves (recover it from the customer, or accept the
loss), so nothing is lost and nothing is silently over-given.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import Conflict
from common.sync.protocol import SaleCompleted
from sync_server.pricing.models import CouponRedemption, PricingRule

OVER_LIMIT = "coupon.over_limit"


def _rule(session: Session, *, tenant_id: int, code: str) -> PricingRule | None:
    # The live promotion with the code, else the latest one that had it (ended since).
    return session.scalar(
        select(PricingRule)
        .where(PricingRule.tenant_id == tenant_id, PricingRule.coupon_code == code)
        .order_by(PricingRule.active.desc(), PricingRule.id.desc())
        .limit(1)
        .with_for_update()
    )


def _over_limit(
    session: Session, *, rule: PricingRule, code: str, customer_id: int | None
) -> str | None:
    """Say why one more use of the code is beyond its limits, or None when it is within."""
    spec = rule.spec
    base = select(func.count()).where(
        CouponRedemption.tenant_id == rule.tenant_id,
        CouponRedemption.promotion_id == rule.id,
        CouponRedemption.within_limit.is_(True),
    )
    limit = spec.get("max_uses")
    if limit is not None and session.scalar(base) >= limit:
        return f"coupon {code} was already used {limit} time(s), its limit"
    per_customer = spec.get("max_uses_per_customer")
    if per_customer is not None and customer_id is not None:
        used = session.scalar(base.where(CouponRedemption.customer_id == customer_id))
        if used >= per_customer:
            return f"coupon {code} was already used {per_customer} time(s) by this customer"
    return None


def redeem(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    payload: SaleCompleted,
    customer_id: int | None,
) -> list[str]:
    """Record the coupon uses of an arriving sale; return why each use beyond a limit is one.

    The caller keeps each returned reason as an OVER_LIMIT dead letter for a manager.
    """
    over: list[str] = []
    for code in sorted(set(payload.coupon_codes)):
        rule = _rule(session, tenant_id=tenant_id, code=code)
        reason: str | None
        if rule is None:
            reason = f"coupon {code} is not one this business issued"
        else:
            reason = _over_limit(session, rule=rule, code=code, customer_id=customer_id)
        session.add(
            CouponRedemption(
                tenant_id=tenant_id,
                promotion_id=rule.id if rule else None,
                code=code,
                sale_uuid=payload.sale_id,
                device_id=device_id,
                customer_id=customer_id,
                within_limit=reason is None,
            )
        )
        if reason is not None:
            over.append(
                f"Sale {payload.receipt_number} was kept, but {reason}: recover the "
                "discount from the customer or accept it, then resolve this."
            )
    session.flush()
    return over


def check_online(
    session: Session, *, tenant_id: int, codes: list[str], customer_id: int | None
) -> list[str]:
    """Refuse (409) a code that is not live or is used up; return the codes, cleaned.

    Online the customer is present, so a code beyond its limit is refused up front rather
    than left for a manager.
    """
    cleaned = sorted({code.strip().upper() for code in codes})
    for code in cleaned:
        rule = session.scalar(
            select(PricingRule).where(
                PricingRule.tenant_id == tenant_id,
                PricingRule.coupon_code == code,
                PricingRule.active.is_(True),
            )
        )
        if rule is None:
            raise Conflict(f"Coupon {code} is not valid (unknown or ended).")
        reason = _over_limit(session, rule=rule, code=code, customer_id=customer_id)
        if reason is not None:
            raise Conflict(f"Coupon {code} cannot be used: {reason}.")
    return cleaned


def record_online(
    session: Session,
    *,
    tenant_id: int,
    codes: list[str],
    applied: dict[str, int],
    document: str,
    customer_id: int | None,
) -> None:
    """Record the uses of coupons whose promotions priced an online order or sales request."""
    for code in codes:
        if code in applied:
            session.add(
                CouponRedemption(
                    tenant_id=tenant_id,
                    promotion_id=applied[code],
                    code=code,
                    sale_uuid=document,
                    customer_id=customer_id,
                )
            )
