"""The operator's API: provision businesses on a shared server (off unless switched on).

A business's own admin can never reach it: it answers only to the operator key
(STOCKPILOT_OPERATOR_KEY) in the X-Operator-Key header, and it is mounted only when
STOCKPILOT_TENANT_API is true, so a server that does not want it has no such route at all.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from sqlalchemy import select

from common.errors import AuthenticationFailed
from common.schemas.base import problem_responses
from common.schemas.org import TenantCreate, TenantProvisioned, TenantRead
from sync_server.config import Settings
from sync_server.foundation.deps import SessionDep
from sync_server.org.models import Tenant
from sync_server.provisioning.service import provision_tenant

MIN_KEY_LENGTH = 32


class OperatorApiMisconfigured(RuntimeError):
    """The tenant API was switched on without a usable operator key."""


def operator_key(settings: Settings) -> str:
    """Return the operator key, refusing a missing or short one."""
    key = settings.operator_key or ""
    if len(key) < MIN_KEY_LENGTH:
        raise OperatorApiMisconfigured(
            "STOCKPILOT_TENANT_API is on but STOCKPILOT_OPERATOR_KEY is missing or shorter "
            f"than {MIN_KEY_LENGTH} characters."
        )
    return key


def build_operator_router(settings: Settings) -> APIRouter:
    """Return /api/v1/tenants guarded by the operator key; refuse a missing or short key."""
    key = operator_key(settings)

    def operator(
        x_operator_key: Annotated[str | None, Header(description="the operator key")] = None,
    ) -> None:
        """Let only the operator through."""
        given = (x_operator_key or "").encode()
        if not hmac.compare_digest(given, key.encode()):
            raise AuthenticationFailed("Send the operator key in the X-Operator-Key header.")

    router = APIRouter(prefix="/api/v1", tags=["operator"], dependencies=[Depends(operator)])

    @router.post(
        "/tenants",
        status_code=201,
        response_model=TenantProvisioned,
        responses=problem_responses(401, 409, 422),
    )
    def create_tenant(body: TenantCreate, session: SessionDep) -> TenantProvisioned:
        """Create a business with its admin and, unless branch_name is null, its first branch."""
        made = provision_tenant(session, data=body)
        return TenantProvisioned(
            tenant=TenantRead.model_validate(made.tenant),
            admin_username=made.admin.username,
            branch_id=made.branch.id if made.branch is not None else None,
        )

    @router.get("/tenants", response_model=list[TenantRead], responses=problem_responses(401))
    def list_tenants(session: SessionDep) -> list[TenantRead]:
        """List the businesses on this server."""
        rows = session.scalars(select(Tenant).order_by(Tenant.id))
        return [TenantRead.model_validate(row) for row in rows]

    return router
