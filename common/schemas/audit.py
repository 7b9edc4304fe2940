"""Wire shapes of the audit log: its entries, the chain's verification and checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.schemas.base import ReadSchema


class AuditEntryRead(ReadSchema):
    id: int
    # None for an entry committed after the sealing this request ran (sealed within a second).
    seq: int | None
    at: datetime
    actor_id: int | None
    actor: str
    device_id: str | None
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    hash: str | None


class ChainReportRead(ReadSchema):
    entries: int
    ok: bool
    broken_at_seq: int | None
    reason: str
    pending: int
    problems: list[str]


class CheckpointRead(ReadSchema):
    tenant_id: int
    seq: int
    at: str
    text: str
