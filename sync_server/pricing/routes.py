"""Price lists, promotions and the "what would this cart cost" preview."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.pricing import (
    PreviewIn,
    PreviewRead,
    PriceListIn,
    PromotionIn,
    RuleRead,
)
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, paginate
from sync_server.pricing import service
from sync_server.pricing.models import PricingRule
from sync_server.pricing.service import PRICE_LIST, PROMOTION

router = APIRouter()
_PATHS = {PRICE_LIST: "/price-lists", PROMOTION: "/promotions"}
_TAGS: list[str | Enum] = ["pricing"]


def _list(
    session: Session,
    principal: Principal,
    page: PageParams,
    rule_type: str,
    active: bool | None,
) -> dict[str, Any]:
    stmt = select(PricingRule).where(
        PricingRule.tenant_id == principal.tenant_id, PricingRule.rule_type == rule_type
    )
    if active is not None:
        stmt = stmt.where(PricingRule.active.is_(active))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"name": PricingRule.name, "created_at": PricingRule.created_at},
        default_sort="created_at",
        tiebreak=PricingRule.id,
    )


@router.get("/price-lists", response_model=Page[RuleRead], tags=_TAGS)
def list_price_lists(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "name")],
    active: bool | None = None,
) -> dict[str, Any]:
    """List price lists (active=true: only the live ones)."""
    return _list(session, principal, page, PRICE_LIST, active)


@router.get("/promotions", response_model=Page[RuleRead], tags=_TAGS)
def list_promotions(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "name")],
    active: bool | None = None,
) -> dict[str, Any]:
    """List promotions (active=true: only the live ones)."""
    return _list(session, principal, page, PROMOTION, active)


@router.post(
    "/price-lists",
    response_model=RuleRead,
    status_code=201,
    tags=_TAGS,
    responses=problem_responses(409, 422),
)
def create_price_list(
    body: PriceListIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """Create a price list; tills receive it with their next pull."""
    return service.create_rule(session, actor=principal, rule_type=PRICE_LIST, data=body)


@router.post(
    "/promotions",
    response_model=RuleRead,
    status_code=201,
    tags=_TAGS,
    responses=problem_responses(409, 422),
)
def create_promotion(
    body: PromotionIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """Create (or schedule, with a window in the future) a promotion."""
    return service.create_rule(session, actor=principal, rule_type=PROMOTION, data=body)


@router.get(
    "/price-lists/{rule_id}", response_model=RuleRead, tags=_TAGS, responses=problem_responses(404)
)
def get_price_list(
    rule_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> PricingRule:
    """Return one price list."""
    return service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PRICE_LIST, rule_id=rule_id
    )


@router.get(
    "/promotions/{rule_id}", response_model=RuleRead, tags=_TAGS, responses=problem_responses(404)
)
def get_promotion(
    rule_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> PricingRule:
    """Return one promotion."""
    return service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PROMOTION, rule_id=rule_id
    )


@router.put(
    "/price-lists/{rule_id}",
    response_model=RuleRead,
    tags=_TAGS,
    responses=problem_responses(404, 409, 422),
)
def replace_price_list(
    rule_id: Id,
    body: PriceListIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """Replace a live price list's definition."""
    rule = service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PRICE_LIST, rule_id=rule_id
    )
    return service.replace_rule(session, actor=principal, rule=rule, data=body)


@router.put(
    "/promotions/{rule_id}",
    response_model=RuleRead,
    tags=_TAGS,
    responses=problem_responses(404, 409, 422),
)
def replace_promotion(
    rule_id: Id,
    body: PromotionIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """Replace a live promotion's definition."""
    rule = service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PROMOTION, rule_id=rule_id
    )
    return service.replace_rule(session, actor=principal, rule=rule, data=body)


@router.post(
    "/price-lists/{rule_id}/end",
    response_model=RuleRead,
    tags=_TAGS,
    responses=problem_responses(404, 409),
)
def end_price_list(
    rule_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """End a price list now."""
    rule = service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PRICE_LIST, rule_id=rule_id
    )
    return service.end_rule(session, actor=principal, rule=rule)


@router.post(
    "/promotions/{rule_id}/end",
    response_model=RuleRead,
    tags=_TAGS,
    responses=problem_responses(404, 409),
)
def end_promotion(
    rule_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PRICES_WRITE)],
) -> PricingRule:
    """End a promotion now."""
    rule = service.get_rule(
        session, tenant_id=principal.tenant_id, rule_type=PROMOTION, rule_id=rule_id
    )
    return service.end_rule(session, actor=principal, rule=rule)


@router.post(
    "/pricing/preview", response_model=PreviewRead, tags=_TAGS, responses=problem_responses(422)
)
def preview(
    body: PreviewIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CATALOG_READ)],
) -> PreviewRead:
    """Price a cart as it would be priced at that moment, without selling it."""
    ctx = service.context(
        session,
        tenant_id=principal.tenant_id,
        channel=body.channel,
        branch_id=body.branch_id,
        at=body.at,
        customer_group=body.customer_group,
        customer_id=body.customer_id,
        coupon_codes=frozenset(body.coupon_codes),
    )
    lines = [
        service.CartLine(line_id=f"{n + 1}", product_id=line.product_id, quantity=line.quantity)
        for n, line in enumerate(body.lines)
    ]
    priced = service.price(session, tenant_id=principal.tenant_id, lines=lines, ctx=ctx)
    return PreviewRead.model_validate(priced)
