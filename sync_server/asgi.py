"""The ASGI app uvicorn imports in each worker process."""

from __future__ import annotations

from sync_server.main import create_app

app = create_app()
