"""Paging and tenant-scoped lookups for the services: no web framework here.

The list endpoints read their paging parameters with sync_server.paging (FastAPI); the
services and the commands that run them import these from here, so a command does not load
FastAPI to look a row up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from common.errors import NotFound, ValidationFailed

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int
    sort: str | None


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    params: PageParams,
    sortable: dict[str, Any],
    default_sort: str,
    tiebreak: InstrumentedAttribute[Any] | tuple[Any, ...],
) -> dict[str, Any]:
    """Run stmt as one page: items, total, limit, offset."""
    sort = params.sort or default_sort
    descending = sort.startswith("-")
    column = sortable.get(sort.lstrip("-"))
    if column is None:
        raise ValidationFailed(
            f"Cannot sort by '{sort.lstrip('-')}'; choose one of {', '.join(sorted(sortable))}."
        )
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ties = tiebreak if isinstance(tiebreak, tuple) else (tiebreak,)
    ordered = stmt.order_by(column.desc() if descending else column.asc(), *(t.asc() for t in ties))
    items = session.scalars(ordered.limit(params.limit).offset(params.offset)).unique().all()
    return {"items": items, "total": total or 0, "limit": params.limit, "offset": params.offset}


def get_owned(session: Session, model: type[T], *, id: int, tenant_id: int, what: str) -> T:
    """Return a row of the caller's tenant, or NotFound (never another tenant's row)."""
    row = session.get(model, id)
    if row is None or row.tenant_id != tenant_id:  # type: ignore[attr-defined]
        raise NotFound(f"There is no {what} with id {id}.")
    return row


def in_caller_branches(stmt: Select[Any], *, column: Any, principal: Any) -> Select[Any]:
    """Narrow stmt to the branches a branch-bound caller works in (admins see every branch)."""
    if principal.all_branches:
        return stmt
    return stmt.where(column.in_(sorted(principal.branch_ids)))


def like_pattern(text: str) -> str:
    """Return a LIKE pattern matching text anywhere, with wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
