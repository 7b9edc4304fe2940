"""stockpilot-server init, create-user, demo-data and audit verify on a real SQLite file."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from common.barcodes import is_valid_gtin
from sync_server.cli import main
from sync_server.db import make_engine


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STOCKPILOT_DATABASE_URL", raising=False)
    return tmp_path


def test_init_generates_a_password_once_and_a_second_run_changes_nothing(data_dir, capsys):
    assert main(["init", "--tenant", "Corner Shop"]) == 0
    first = capsys.readouterr().out
    assert "admin" in first and "password:" in first
    assert main(["init", "--tenant", "Other"]) == 0
    second = capsys.readouterr().out
    assert "Already initialised" in second and "password" not in second
    from sync_server.org.models import Tenant

    engine = make_engine(f"sqlite:///{data_dir / 'stockpilot.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Tenant.__table__)) == 1
    engine.dispose()


def test_demo_data_is_realistic_and_idempotent(data_dir, capsys):
    main(["init", "--admin-password", "demo-password", "--no-branch"])
    assert main(["demo-data"]) == 0
    assert "Demo data loaded" in capsys.readouterr().out
    assert main(["demo-data"]) == 0
    assert "already loaded" in capsys.readouterr().out
    from sync_server.catalog.models import ProductBarcode
    from sync_server.org.models import Branch
    from sync_server.partners.models import Customer, Supplier

    engine = make_engine(f"sqlite:///{data_dir / 'stockpilot.db'}")
    with engine.connect() as conn:
        codes = conn.scalars(select(ProductBarcode.code)).all()
        assert len(codes) >= 30 and all(is_valid_gtin(c) for c in codes)
        assert conn.scalar(select(func.count()).select_from(Branch.__table__)) == 2
        assert conn.scalar(select(func.count()).select_from(Supplier.__table__)) >= 3
        assert conn.scalar(select(func.count()).select_from(Customer.__table__)) >= 3
    engine.dispose()


def test_create_user_and_audit_verify(data_dir, capsys):
    main(["init", "--admin-password", "demo-password"])
    assert (
        main(
            [
                "create-user",
                "priya",
                "--role",
                "manager",
                "--password",
                "long-password",
                "--pin",
                "2468",
            ]
        )
        == 0
    )
    assert "Created manager 'priya'" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert "chain intact" in capsys.readouterr().out


def test_help_explains_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "sync_server.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("init", "serve", "create-user", "demo-data", "audit", "tenant", "branch"):
        assert command in result.stdout
