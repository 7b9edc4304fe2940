"""Stock on its way next to stock on hand: what open purchase orders still bring."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.orm import Session

from sync_server.domains import load_receivers
from sync_server.inventory import queries
from sync_server.lookups import PageParams

ZERO = Decimal("0")


def levels_with_on_order(
    session: Session,
    *,
    tenant_id: int,
    branches: list[int] | None,
    params: PageParams,
    **filters: Any,
) -> dict[str, Any]:
    """Return one page of stock levels, each with on_order and the first expected date."""
    page = queries.levels_page(
        session, tenant_id=tenant_id, branches=branches, params=params, **filters
    )
    incoming = on_order(
        session,
        tenant_id=tenant_id,
        branch_ids={row["branch_id"] for row in page["items"]},
        product_ids={row["product_id"] for row in page["items"]},
    )
    for row in page["items"]:
        quantity, expected = incoming.get((row["branch_id"], row["product_id"]), (ZERO, None))
        row["on_order"], row["expected_at"] = quantity, expected
    return page


class OnOrder(Protocol):
    """Return (due, earliest expected date) per (branch, product) among those asked for."""

    def __call__(
        self, session: Session, *, tenant_id: int, branch_ids: set[int], product_ids: set[int]
    ) -> dict[tuple[int, int], tuple[Decimal, date | None]]: ...


# Purchasing builds on inventory, not the other way round: it registers what is on order
# (its receivers.py); with no source registered nothing is.
_SOURCES: list[OnOrder] = []


def register_on_order(source: OnOrder) -> None:
    """Count what ``source`` says is on its way in every level's on_order."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def on_order(
    session: Session, *, tenant_id: int, branch_ids: set[int], product_ids: set[int]
) -> dict[tuple[int, int], tuple[Decimal, date | None]]:
    """Return (due, earliest expected date) per (branch, product), from every source."""
    load_receivers()
    found: dict[tuple[int, int], tuple[Decimal, date | None]] = {}
    for source in _SOURCES:
        for key, (quantity, expected) in source(
            session, tenant_id=tenant_id, branch_ids=branch_ids, product_ids=product_ids
        ).items():
            have, first = found.get(key, (ZERO, None))
            dates = [d for d in (first, expected) if d is not None]
            found[key] = (have + quantity, min(dates) if dates else None)
    return found
