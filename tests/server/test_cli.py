"""stockpilot-server init, create-user, demo-data and audit verify on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from common.barcodes import is_valid_gtin
from sync_server.cli import main
from sync_server.db import make_engine
from tests import zygote
from tests.clitools import SERVER, copy_dir, run
from tests.invariants import check_ledger


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


def _cli(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    """Run stockpilot-server in a fresh process, as a user would."""
    env = {**os.environ, "STOCKPILOT_DATA_DIR": str(data_dir)}
    env.pop("STOCKPILOT_DATABASE_URL", None)
    return zygote.run(
        [sys.executable, "-m", "sync_server.cli", *args],
        timeout=240,
        env=env,
    )


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_demo_data_is_a_realistic_month_and_a_second_run_refuses(demo_shop, tmp_path):
    # `init --no-branch` then `demo-data`, each a process of its own on a fresh data dir: the
    # run's one demo shop (tests/conftest.py), whose answers are checked here.
    made, loaded = demo_shop.init, demo_shop.demo
    assert "--no-branch" in made.args
    assert made.returncode == 0, made.stderr
    assert loaded.returncode == 0, loaded.stderr
    assert "Demo data loaded" in loaded.stdout and "a month of history" in loaded.stdout
    assert loaded.stderr == ""  # no warnings or notices from the machinery that lives the month
    data = demo_shop.copy(tmp_path / "data")  # this test's own copy (database and audit key)
    again = run(SERVER, "demo-data", data_dir=data)
    assert again.returncode == 1 and again.stdout == ""
    assert len(again.stderr.strip().splitlines()) == 1 and "--force" in again.stderr

    from sync_server.catalog.models import ProductBarcode
    from sync_server.org.models import Branch
    from sync_server.partners.models import Customer, Supplier

    engine = make_engine(f"sqlite:///{data / 'stockpilot.db'}")
    with engine.connect() as conn:
        codes = conn.scalars(select(ProductBarcode.code)).all()
        assert len(codes) >= 30 and all(is_valid_gtin(c) for c in codes)
        assert conn.scalar(select(func.count()).select_from(Branch.__table__)) == 2
        assert conn.scalar(select(func.count()).select_from(Supplier.__table__)) >= 3
        assert conn.scalar(select(func.count()).select_from(Customer.__table__)) >= 3
        # A month of till sales from enrolled tills, each in a shift, at both branches.
        sales = conn.execute(
            text(
                "SELECT branch_id, device_id, shift_uuid, occurred_at FROM sales "
                "WHERE channel = 'in_store'"
            )
        ).all()
        assert {s.branch_id for s in sales} == set(
            conn.scalars(select(Branch.__table__.c.id)).all()
        )
        assert all(s.device_id and s.shift_uuid for s in sales)
        days = {str(s.occurred_at)[:10] for s in sales}
        assert len(days) >= 28, days
        devices = conn.scalar(text("SELECT count(*) FROM devices"))
        assert devices == 2
        shifts = conn.execute(text("SELECT closed_at FROM till_shifts")).all()
        assert len(shifts) >= 56 and sum(s.closed_at is None for s in shifts) == 2
        assert conn.scalar(text("SELECT count(*) FROM sale_returns")) == 2  # one a till
        assert conn.scalar(text("SELECT count(*) FROM orders")) >= 5
        statuses = conn.scalars(text("SELECT status FROM purchase_orders")).all()
        assert "received" in statuses or "closed" in statuses
        assert (
            conn.scalar(text("SELECT count(*) FROM stock_transfers WHERE status = 'closed'")) == 1
        )
    assert check_ledger(engine) > 0  # every stock level is the sum of its movements
    engine.dispose()
    assert run(SERVER, "audit", "verify", data_dir=data).returncode == 0


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    """A data dir after a default `init` (one branch), made once and copied per test."""
    data = tmp_path_factory.mktemp("initialised") / "data"
    made = _cli("init", "--admin-password", "demo-password", data_dir=data)
    assert made.returncode == 0, made.stderr
    return data


def test_demo_data_refuses_a_business_with_data_unless_forced(initialised, tmp_path):
    data = copy_dir(initialised, tmp_path / "data")
    made = _cli(
        "create-user",
        "meena",
        "--role",
        "cashier",
        "--password",
        "long-password",
        data_dir=data,
    )
    assert made.returncode == 0, made.stderr
    refused = _cli("demo-data", "--no-history", data_dir=data)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "already holds data" in refused.stderr
    assert "Traceback" not in refused.stderr
    engine = make_engine(f"sqlite:///{data / 'stockpilot.db'}")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM products")) == 0  # nothing half-written
        assert conn.scalar(text("SELECT count(*) FROM users")) == 2
    engine.dispose()
    forced = _cli("demo-data", "--no-history", "--force", data_dir=data)
    assert forced.returncode == 0, forced.stderr
    assert "Demo data loaded" in forced.stdout and "history" not in forced.stdout


def test_demo_data_loads_after_a_default_init_with_its_one_branch(initialised, tmp_path):
    data = copy_dir(initialised, tmp_path / "data")
    loaded = _cli("demo-data", "--no-history", data_dir=data)
    assert loaded.returncode == 0, loaded.stderr
    assert "Demo data loaded" in loaded.stdout


def test_demo_data_before_init_says_what_to_do(tmp_path):
    result = _cli("demo-data", data_dir=tmp_path)
    assert result.returncode == 1 and "stockpilot-server init" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


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


def _cli_probe(then: str) -> str:
    """A `python -c` script: run the CLI on its arguments, keep its exit code, then `then`."""
    return (
        "import json, runpy, sys\n"
        "sys.argv = ['stockpilot-server', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('sync_server.cli', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    code = done.code\n" + then
    )


@pytest.mark.parametrize("args", [["--help"], ["tenant", "list", "--help"], ["bogus"]])
def test_help_and_bad_usage_start_without_the_database_code(args):
    """The parser every command builds loads no SQLAlchemy and no settings (pydantic)."""
    probe = _cli_probe(
        "heavy = ('sqlalchemy', 'pydantic', 'sync_server.models')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "import sync_server.db  # the check sees SQLAlchemy once it is loaded\n"
        "print(json.dumps([code, loaded, 'sqlalchemy' in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    code, loaded, seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == (2 if args == ["bogus"] else 0), result.stderr
    assert loaded == [] and seen, loaded


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "verify"],
        ["ledger", "verify"],
        ["create-user", "bob", "--password", "long-password"],
        ["demo-data"],
    ],
)
def test_a_command_on_a_data_dir_without_a_database_is_refused_before_the_database_code(
    tmp_path, args
):
    """'Not initialised' is said before SQLAlchemy and the models load (they cost ~0.4 s)."""
    probe = _cli_probe(
        "heavy = ('sqlalchemy', 'sync_server.models', 'sync_server.db')\n"
        "print(json.dumps([code, [m for m in heavy if m in sys.modules]]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPILOT_")}
    result = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "STOCKPILOT_DATA_DIR": str(tmp_path / "data")},
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "not initialised" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 1 and loaded == [], loaded
    assert not (tmp_path / "data" / "stockpilot.db").exists()
