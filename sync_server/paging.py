"""The list endpoints' paging parameters (FastAPI), and the lookups they share with services.

PageParams, paginate, get_owned, in_caller_branches and like_pattern live in lookups.py
(no FastAPI there, for the services and commands); they are named here too for the routes.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import AwareDatetime

from common.schemas.base import Offset
from sync_server.lookups import (
    PageParams,
    get_owned,
    in_caller_branches,
    like_pattern,
    paginate,
)

__all__ = [
    "PageDep",
    "PageParams",
    "SortedBy",
    "UpdatedSince",
    "get_owned",
    "in_caller_branches",
    "like_pattern",
    "page_params",
    "paginate",
]


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
