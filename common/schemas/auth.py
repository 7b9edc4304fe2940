"""Login, tokens and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from common.roles import Role
from common.schemas.base import Id, ReadSchema, Schema

Username = str


class LoginRequest(Schema):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenRead(ReadSchema):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserCreate(Schema):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    full_name: str = Field(default="", max_length=120)
    email: str | None = Field(default=None, max_length=254)
    password: str = Field(min_length=8, max_length=256)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")
    role: Role
    branch_ids: list[Id] = Field(default_factory=list)


class UserUpdate(Schema):
    full_name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    password: str | None = Field(default=None, min_length=8, max_length=256)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")
    role: Role | None = None
    active: bool | None = None
    branch_ids: list[Id] | None = None


class UserRead(ReadSchema):
    id: int
    username: str
    full_name: str
    email: str | None
    role: Role
    active: bool
    branch_ids: list[int]
    created_at: datetime
    last_login_at: datetime | None


class MeRead(UserRead):
    tenant_id: int
    tenant_name: str
    permissions: list[str]
