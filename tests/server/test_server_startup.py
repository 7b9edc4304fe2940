"""What starting the server costs: what it imports and works out before its first answer.

Every start of the server (an operator's restart, each uvicorn worker, every server a test
starts) pays for these; each check runs in a fresh interpreter, as uvicorn imports the app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from alembic import command
from sqlalchemy import create_engine

from sync_server.migrations import heads, runner

# Imported where first used, not at start-up: Alembic (only for a database behind the
# migrations' head), reportlab (printing), num2words (an invoice's amount in words), httpx
# (delivering a webhook or an SMS).
NOT_AT_START = ("alembic", "reportlab", "num2words", "httpx")

_PROBE = """
import fastapi.routing, gc, json, sys
import sync_server.asgi
from sync_server.auth import service
from sync_server.config import Settings
from sync_server.main import create_app

loaded = [m for m in sys.argv[1:] if m in sys.modules]
# FastAPI works out a route's parameters and models through create_model_field; the routes
# were defined when the domains were imported, and including them must not work them out
# again before a request needs them (the app does that once, on its first request).
calls = []
plain = fastapi.routing.create_model_field
fastapi.routing.create_model_field = lambda *a, **k: calls.append(1) or plain(*a, **k)
app = create_app(Settings())
print(json.dumps({
    "loaded": loaded,
    "worked_out_in_create_app": len(calls),
    "collector_enabled": gc.isenabled(),
    "dummy_hash_made": service._dummy_hash.cache_info().currsize,
    "routes": sum(1 for _ in app.openapi()["paths"]),
}))
"""


def test_importing_the_app_loads_nothing_it_needs_only_later_and_builds_each_route_once(
    tmp_path,
):
    """sync_server.asgi leaves Alembic, reportlab, num2words and httpx alone, and no hash."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPILOT_")}
    env["STOCKPILOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'start.db'}"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *NOT_AT_START],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["loaded"] == [], found
    assert found["worked_out_in_create_app"] == 0, found
    assert found["collector_enabled"] is True, found
    assert found["dummy_hash_made"] == 0, found
    assert found["routes"] > 100, found  # the app still has every domain's routes


def test_health_asks_alembic_only_for_a_database_off_the_head(tmp_path):
    """heads.is_up_to_date (what /health asks) answers as the runner does, on every side."""
    engine = create_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    assert heads.is_up_to_date(engine) is runner.is_up_to_date(engine) is False  # empty
    cfg = runner.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0029_credential_directory")
    assert heads.is_up_to_date(engine) is runner.is_up_to_date(engine) is False  # behind
    runner.upgrade(engine)
    assert heads.is_up_to_date(engine) is runner.is_up_to_date(engine) is True
