"""Login, logout, the current user, and user administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import or_, select

from common.errors import AuthenticationFailed
from common.roles import Permission, Role
from common.schemas.auth import LoginRequest, MeRead, TokenRead, UserCreate, UserRead, UserUpdate
from common.schemas.base import Id, Page, problem_responses
from sync_server.auth import service
from sync_server.auth.models import User
from sync_server.db import transaction
from sync_server.foundation.deps import PrincipalDep, Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.org.models import Tenant
from sync_server.paging import PageParams, SortedBy, get_owned, like_pattern, paginate

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=TokenRead, responses=problem_responses(401, 422, 429))
def login(body: LoginRequest, request: Request) -> TokenRead:
    """Exchange a username and password for a short-lived access token."""
    settings = request.app.state.settings
    # Its own transaction: a failed attempt must be recorded even though we answer 401.
    with transaction(request.app.state.sessions) as session:
        outcome = service.login(
            session,
            username=body.username,
            password=body.password,
            client=request.client.host if request.client else "",
            secret=settings.resolved_secret_key,
            token_minutes=settings.access_token_minutes,
            max_failures=settings.login_max_failures,
            lockout_minutes=settings.login_lockout_minutes,
            max_delay_s=settings.login_slowdown_max_seconds,
        )
    if outcome.error is not None:
        raise outcome.error
    if outcome.token is None:  # every outcome without an error carries a token
        raise AuthenticationFailed("Wrong username or password.")
    return TokenRead(access_token=outcome.token, expires_in=settings.access_token_minutes * 60)


@router.post("/auth/logout", status_code=204, responses=problem_responses(401))
def logout(principal: PrincipalDep, session: SessionDep) -> None:
    """Revoke the token this request was sent with."""
    service.logout(session, principal=principal)


@router.get("/auth/me", response_model=MeRead, responses=problem_responses(401))
def me(principal: PrincipalDep, session: SessionDep) -> MeRead:
    """Return the logged-in user with their tenant and permissions."""
    user = get_owned(
        session, User, id=principal.user_id or 0, tenant_id=principal.tenant_id, what="user"
    )
    tenant = session.get(Tenant, principal.tenant_id)
    return MeRead.model_validate(
        {
            **UserRead.model_validate(user).model_dump(),
            "tenant_id": principal.tenant_id,
            "tenant_name": tenant.name if tenant else "",
            "permissions": sorted(p.value for p in principal.permissions),
        }
    )


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.USERS_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "role", "username")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    role: Role | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """List the business's users."""
    stmt = select(User).where(User.tenant_id == principal.tenant_id)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                User.username.ilike(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
            )
        )
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"username": User.username, "role": User.role, "created_at": User.created_at},
        default_sort="username",
        tiebreak=User.id,
    )


@router.post(
    "/users", response_model=UserRead, status_code=201, responses=problem_responses(409, 422)
)
def create_user(
    body: UserCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.USERS_WRITE)],
) -> User:
    """Create a user with a role and the branches they work in."""
    return service.create_user(session, actor=principal, tenant_id=principal.tenant_id, data=body)


@router.get("/users/{user_id}", response_model=UserRead, responses=problem_responses(404))
def get_user(
    user_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.USERS_READ)],
) -> User:
    """Return one user."""
    return get_owned(session, User, id=user_id, tenant_id=principal.tenant_id, what="user")


@router.patch(
    "/users/{user_id}", response_model=UserRead, responses=problem_responses(403, 404, 409, 422)
)
def update_user(
    user_id: Id,
    body: UserUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.USERS_WRITE)],
) -> User:
    """Change a user's details, role, branches, password, PIN, or deactivate them."""
    user = get_owned(session, User, id=user_id, tenant_id=principal.tenant_id, what="user")
    return service.update_user(session, actor=principal, user=user, data=body)
