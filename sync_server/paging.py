"""Paging, sorting and tenant-scoped lookups shared by every list endpoint."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query
from pydantic import AwareDatetime
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from common.errors import NotFound, ValidationFailed
from common.schemas.base import Offset

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int
    sort: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Rows per page")] = 50,
    offset: Annotated[Offset, Query(description="Rows to skip")] = 0,
    sort: Annotated[
        str | None, Query(max_length=64, description="Field to sort by; prefix '-' to reverse")
    ] = None,
) -> PageParams:
    """Read the common paging parameters."""
    return PageParams(limit=limit, offset=offset, sort=sort)


PageDep = Annotated[PageParams, Depends(page_params)]


def SortedBy(*fields: str) -> Any:  # noqa: N802 - reads as a marker in signatures
    """Mark a PageParams parameter whose sort may only name these fields ('-' to reverse).

    Used as ``page: Annotated[PageParams, SortedBy("name", "created_at")]``.

    The choices become an enum in the OpenAPI document; paginate() still refuses anything
    its query cannot sort by.
    """
    choices = tuple(sorted(fields)) + tuple(f"-{f}" for f in sorted(fields))

    def sorted_page_params(**values: Any) -> PageParams:
        return page_params(**values)

    # page_params' own limit and offset, with sort narrowed to an enum (built here, since the
    # choices exist only at run time and annotations in this module are strings).
    parameters = dict(inspect.signature(page_params).parameters)
    parameters["sort"] = parameters["sort"].replace(
        annotation=Annotated[
            Literal[choices] | None,
            Query(description="Field to sort by; prefix '-' to reverse"),
        ]
    )
    sorted_page_params.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        list(parameters.values()), return_annotation=PageParams
    )
    return Depends(sorted_page_params)


# A change query: what changed since the last look (use with sort=updated_at).
UpdatedSince = Annotated[
    AwareDatetime | None,
    Query(
        description="Only rows changed at or after this instant (ISO 8601 with a UTC offset). "
        "To follow changes, sort by updated_at and pass the largest updated_at seen last "
        "time; rows changed in that very instant come again, so apply them idempotently."
    ),
]


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
