"""Import every domain's models so the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations

from sync_server.db import Base
from sync_server.domains import domain_modules

domain_modules("models")
metadata = Base.metadata
