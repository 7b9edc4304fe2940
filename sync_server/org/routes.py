"""Branches and tenant settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy import or_, select

from common.codes import BranchKind
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.org import BranchCreate, BranchRead, BranchUpdate
from common.schemas.settings import SettingRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.org import service
from sync_server.org.models import Branch
from sync_server.paging import PageParams, SortedBy, get_owned, like_pattern, paginate

router = APIRouter(tags=["branches"])


@router.get("/branches", response_model=Page[BranchRead])
def list_branches(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.BRANCHES_READ)],
    page: Annotated[PageParams, SortedBy("code", "created_at", "name")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    kind: BranchKind | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """List stores and warehouses."""
    stmt = select(Branch).where(Branch.tenant_id == principal.tenant_id)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                Branch.name.ilike(pattern, escape="\\"),
                Branch.code.ilike(pattern, escape="\\"),
                Branch.city.ilike(pattern, escape="\\"),
            )
        )
    if kind is not None:
        stmt = stmt.where(Branch.kind == kind.value)
    if active is not None:
        stmt = stmt.where(Branch.active.is_(active))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"name": Branch.name, "code": Branch.code, "created_at": Branch.created_at},
        default_sort="name",
        tiebreak=Branch.id,
    )


@router.post(
    "/branches", response_model=BranchRead, status_code=201, responses=problem_responses(409, 422)
)
def create_branch(
    body: BranchCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.BRANCHES_WRITE)],
) -> Branch:
    """Create a store or warehouse."""
    return service.create_branch(session, actor=principal, tenant_id=principal.tenant_id, data=body)


@router.get("/branches/{branch_id}", response_model=BranchRead, responses=problem_responses(404))
def get_branch(
    branch_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.BRANCHES_READ)],
) -> Branch:
    """Return one branch."""
    return get_owned(session, Branch, id=branch_id, tenant_id=principal.tenant_id, what="branch")


@router.patch(
    "/branches/{branch_id}", response_model=BranchRead, responses=problem_responses(404, 422)
)
def update_branch(
    branch_id: Id,
    body: BranchUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.BRANCHES_WRITE)],
) -> Branch:
    """Change a branch or deactivate it."""
    branch = get_owned(session, Branch, id=branch_id, tenant_id=principal.tenant_id, what="branch")
    return service.update_branch(session, actor=principal, branch=branch, data=body)


@router.get("/settings", tags=["settings"])
def list_settings(
    session: SessionDep, principal: Annotated[Principal, Requires(Permission.SETTINGS_ADMIN)]
) -> dict[str, Any]:
    """Return the business's settings, defaults filled in."""
    return service.get_settings(session, tenant_id=principal.tenant_id)


@router.put(
    "/settings/{key}",
    tags=["settings"],
    response_model=SettingRead,
    responses=problem_responses(404, 422),
)
def put_setting(
    key: str,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SETTINGS_ADMIN)],
    value: Annotated[Any, Body(embed=True)],
) -> SettingRead:
    """Change one setting: body {"value": ...} of the setting's type."""
    stored = service.put_setting(session, actor=principal, key=key, value=value)
    return SettingRead(key=key, value=stored)
