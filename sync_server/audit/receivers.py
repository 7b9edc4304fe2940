"""What the audit domain gives the foundation: the maker of each tenant's chain head."""

from __future__ import annotations

from sync_server.audit.service import create_head
from sync_server.foundation.tenant_lock import register_head

register_head("audit", create_head)
