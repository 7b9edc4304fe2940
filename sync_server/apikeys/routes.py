"""Admin endpoints for the API keys of online stores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy import select

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from sync_server.apikeys import service
from sync_server.apikeys.models import ApiKey
from sync_server.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, paginate

router = APIRouter(tags=["api keys"])


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    responses=problem_responses(403, 422),
)
def create_api_key(
    body: ApiKeyCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.API_KEYS_ADMIN)],
) -> ApiKeyCreated:
    """Create a key for an online store; the key is in this answer and nowhere else."""
    key, secret = service.create_key(
        session, actor=principal, tenant_id=principal.tenant_id, data=body
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(key).model_dump(), "key": secret}
    )


@router.get("/api-keys", response_model=Page[ApiKeyRead])
def list_api_keys(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.API_KEYS_ADMIN)],
    page: Annotated[PageParams, SortedBy("created_at", "name")],
) -> dict[str, Any]:
    """List the tenant's keys (never their secrets)."""
    stmt = select(ApiKey).where(ApiKey.tenant_id == principal.tenant_id)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"created_at": ApiKey.created_at, "name": ApiKey.name},
        default_sort="created_at",
        tiebreak=ApiKey.id,
    )


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyRead,
    responses=problem_responses(403, 404, 409),
)
def revoke_api_key(
    key_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.API_KEYS_ADMIN)],
) -> ApiKey:
    """Revoke a key at once."""
    return service.revoke_key(
        session, actor=principal, tenant_id=principal.tenant_id, key_id=key_id
    )
