"""Webhook deliveries: the events, their payloads, and the signature receivers verify."""

from __future__ import annotations

from typing import Any


def webhooks_section(schemas: dict[str, Any]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 `webhooks` section (adding the payload schemas to `schemas`)."""
    return {}
