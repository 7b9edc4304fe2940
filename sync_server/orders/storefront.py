"""The catalog as the online store sees it: price and what each branch can sell now."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from sync_server.catalog.models import Product
from sync_server.foundation.principal import Principal
from sync_server.inventory.models import StockLevel
from sync_server.lookups import PageParams, paginate
from sync_server.orders.schemas import BranchAvailability, CatalogItem
from sync_server.org.models import Branch


def _branches(session: Session, *, principal: Principal, branch_code: str | None) -> list[Branch]:
    stmt = select(Branch).where(Branch.tenant_id == principal.tenant_id, Branch.active.is_(True))
    if branch_code is not None:
        stmt = stmt.where(Branch.code == branch_code)
    branches = [
        b for b in session.scalars(stmt.order_by(Branch.code)) if principal.may_use_branch(b.id)
    ]
    if branch_code is not None and not branches:
        raise ValidationFailed(f"There is no fulfilment branch with code '{branch_code}'.")
    return branches


def catalog_page(
    session: Session,
    *,
    principal: Principal,
    params: PageParams,
    branch_code: str | None,
    updated_since: datetime | None = None,
) -> tuple[bytes, str]:
    """Return one page of the store catalog as JSON bytes, with its ETag."""
    branches = _branches(session, principal=principal, branch_code=branch_code)
    stmt = select(Product).where(Product.tenant_id == principal.tenant_id)
    if updated_since is None:
        stmt = stmt.where(Product.active.is_(True))
    else:
        # A change in what a branch can sell is a change of the store's catalog too.
        restocked = select(StockLevel.product_id).where(
            StockLevel.tenant_id == principal.tenant_id,
            StockLevel.branch_id.in_([b.id for b in branches]),
            StockLevel.updated_at >= updated_since,
        )
        stmt = stmt.where(or_(Product.updated_at >= updated_since, Product.id.in_(restocked)))
    page = paginate(
        session,
        stmt,
        params=params,
        sortable={
            "name": Product.name,
            "sku": Product.sku,
            "price": Product.price,
            "updated_at": Product.updated_at,
        },
        default_sort="sku",
        tiebreak=Product.id,
    )
    products: list[Product] = page["items"]
    available: dict[tuple[int, int], Decimal] = defaultdict(lambda: Decimal("0"))
    if products and branches:
        levels = session.scalars(
            select(StockLevel).where(
                StockLevel.tenant_id == principal.tenant_id,
                StockLevel.product_id.in_([p.id for p in products]),
                StockLevel.branch_id.in_([b.id for b in branches]),
            )
        )
        for level in levels:
            available[(level.product_id, level.branch_id)] = level.on_hand - level.reserved
    items = [
        CatalogItem(
            product_id=p.id,
            sku=p.sku,
            name=p.name,
            description=p.description,
            unit=p.unit,
            price=p.price,
            barcodes=p.barcodes,
            active=p.active,
            availability=[
                BranchAvailability(
                    branch_id=b.id,
                    branch_code=b.code,
                    # A store cannot sell what a till already oversold: never below zero.
                    available=max(available[(p.id, b.id)], Decimal("0")),
                )
                for b in branches
            ],
        ).model_dump(mode="json")
        for p in products
    ]
    body = json.dumps({**page, "items": items}, separators=(",", ":"), sort_keys=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str, *, etag: str) -> bool:
    """Say whether an If-None-Match header names this ETag (weak, listed or '*' too)."""
    # RFC 9110 compares weakly for If-None-Match: W/"x" matches "x".
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False
