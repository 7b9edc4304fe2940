"""Wire shapes of API key administration: the back office reads them too, so they live in
common/."""

from __future__ import annotations

from common.schemas.apikeys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyRead"]
