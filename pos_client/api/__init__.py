"""The desktop app's HTTP client for the sync server (manager screens)."""

from __future__ import annotations

from pos_client.api.client import ApiClient, ApiError, ServerUnreachable

__all__ = ["ApiClient", "ApiError", "ServerUnreachable"]
