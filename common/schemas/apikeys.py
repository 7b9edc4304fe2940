"""Wire shapes of API key administration (the back office creates, lists and revokes keys)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from common.roles import API_KEY_SCOPES
from common.schemas.base import Id, ReadSchema, Schema


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(min_length=1, max_length=len(API_KEY_SCOPES))
    branch_ids: list[Id] = Field(default_factory=list, max_length=200)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in API_KEY_SCOPES]
        if unknown:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(API_KEY_SCOPES))}"
            )
        return sorted(set(values))


class ApiKeyRead(ReadSchema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    branch_ids: list[int]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The new key with its secret: the only time the secret is ever shown."""

    key: str
