"""audit verify, audit checkpoint and ledger verify as separate processes on a fresh data dir."""

from __future__ import annotations

import gzip
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests import zygote

ZONES = ("UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Chatham")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKPILOT_")}
    return {**env, "STOCKPILOT_DATA_DIR": str(data_dir), **extra}


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return zygote.run(
        [sys.executable, "-m", "sync_server.cli", *args],
        timeout=180,
        env=_env(data_dir, **env),
        cwd=data_dir,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture(scope="module")
def demo_dir(demo_shop, tmp_path_factory) -> Path:
    """A data dir set up the documented way: init (business Corner Shop), then the demo shop.

    A copy of the run's demo shop (tests/conftest.py), made by those two commands as processes.
    """
    assert "Corner Shop" in demo_shop.init.args
    return demo_shop.copy(tmp_path_factory.mktemp("shop") / "data")


def _copy(demo_dir: Path, tmp_path: Path) -> Path:
    """Give a test its own copy of the demo data dir (database and keys)."""
    target = tmp_path / "data"
    target.mkdir()
    for name in ("stockpilot.db", "audit.key", "secret.key"):
        if (demo_dir / name).exists():
            (target / name).write_bytes((demo_dir / name).read_bytes())
    return target


def test_the_audit_key_is_made_once_outside_the_database(demo_dir):
    key = demo_dir / "audit.key"
    assert key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() not in (demo_dir / "stockpilot.db").read_bytes().decode(
        "latin-1"
    )


@pytest.mark.parametrize("zone", ZONES)
def test_a_clean_shop_verifies_in_every_time_zone(demo_dir, zone):
    out = _ok(_cli(demo_dir, "audit", "verify", TZ=zone))
    assert out.startswith("Corner Shop: chain intact (") and "BROKEN" not in out
    assert _ok(_cli(demo_dir, "ledger", "verify", TZ=zone)) == (
        "Corner Shop: books agree with their ledgers\n"
    )


def test_checkpoint_then_verify_from_a_file_or_the_text(demo_dir, tmp_path):
    data = _copy(demo_dir, tmp_path)
    filed = tmp_path / "checkpoints.txt"
    line = _ok(_cli(data, "audit", "checkpoint", "--out", str(filed))).strip()
    assert line.startswith("STOCKPILOT-AUDIT-CHECKPOINT tenant=1 seq=")
    assert filed.read_text() == line + "\n"
    for given in (str(filed), line):
        out = _ok(_cli(data, "audit", "verify", "--checkpoint", given, TZ="Asia/Kolkata"))
        assert "chain intact" in out and "holds 1 checkpoint(s)" in out


def test_bad_checkpoint_input_gets_one_line_and_exit_2(demo_dir, tmp_path):
    data = _copy(demo_dir, tmp_path)
    line = _ok(_cli(data, "audit", "checkpoint")).strip()
    junk = tmp_path / "junk.txt"
    junk.write_text("Z REPORT\nnothing signed here\n")
    _refused(
        _cli(data, "audit", "verify", "--checkpoint", "garbage"),
        2,
        "--checkpoint 'garbage' is neither a file nor a checkpoint line.",
    )
    _refused(
        _cli(data, "audit", "verify", "--checkpoint", str(junk)), 2, "No audit checkpoint found"
    )
    _refused(
        _cli(data, "audit", "verify", "--checkpoint", line.replace("tenant=1 ", "tenant=99 ")),
        2,
        "names business 99, which is not here",
    )
    forged = line[: -len("0" * 32)] + "0" * 32
    _refused(
        _cli(data, "audit", "verify", "--checkpoint", forged), 2, "does not carry this server's"
    )
    _refused(
        _cli(data, "audit", "checkpoint", "--out", str(tmp_path / "no" / "dir" / "cp.txt")),
        1,
        "cannot write",
    )
    missing_action = _cli(data, "ledger")
    assert missing_action.returncode == 2 and "Traceback" not in missing_action.stderr


def test_tampering_shows_in_the_exit_code_and_names_what_and_where(demo_dir, tmp_path):
    data = _copy(demo_dir, tmp_path)
    line = _ok(_cli(data, "audit", "checkpoint")).strip()
    db = sqlite3.connect(data / "stockpilot.db")
    last = db.execute("SELECT MAX(seq) FROM audit_entries").fetchone()[0]
    # Truncate the newest three and rewind the head onto what is left.
    db.execute("DELETE FROM audit_entries WHERE seq > ?", (last - 3,))
    db.execute(
        "UPDATE audit_heads SET last_seq = ?, last_hash = "
        "(SELECT hash FROM audit_entries WHERE seq = ?)",
        (last - 3, last - 3),
    )
    db.execute("UPDATE audit_entries SET actor = 'nobody' WHERE seq = 2")
    db.commit()
    result = _cli(data, "audit", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Corner Shop: BROKEN: entry 2 was edited (its content does not match its MAC)" in (
        result.stdout
    )
    assert f"the chain head was reset, rewound or moved outside the server (it says {last - 3}" in (
        result.stdout
    )
    result = _cli(data, "audit", "verify", "--checkpoint", line)
    assert result.returncode == 1
    assert f"BROKEN: entries up to {last} were removed since the checkpoint" in result.stdout

    level_id, on_hand = db.execute(
        "SELECT id, on_hand FROM stock_levels ORDER BY id LIMIT 1"
    ).fetchone()
    db.execute("UPDATE stock_levels SET on_hand = on_hand + 7 WHERE id = ?", (level_id,))
    db.execute(
        "UPDATE customers SET balance = balance + 1 WHERE id = (SELECT MIN(id) FROM customers)"
    )
    db.commit()
    db.close()
    result = _cli(data, "ledger", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Corner Shop: 2 difference(s)" in result.stdout
    assert ", on hand: stored " in result.stdout and "ledger says" in result.stdout
    assert ") balance: stored " in result.stdout


def test_a_lost_audit_key_shows_at_the_next_verify(demo_dir, tmp_path):
    data = _copy(demo_dir, tmp_path)
    (data / "audit.key").unlink()
    result = _cli(data, "audit", "verify")
    assert result.returncode == 1
    assert "which is not in the audit keyring" in result.stdout


def test_commands_on_a_data_dir_without_a_database_say_what_to_run(tmp_path):
    for args in (("audit", "verify"), ("audit", "checkpoint"), ("ledger", "verify")):
        _refused(_cli(tmp_path, *args), 1, "run 'stockpilot-server init'")


def test_a_database_made_before_the_audit_key_upgrades_and_keeps_verifying(tmp_path):
    """The file was made by the release before the key: `init` and `demo-data` (0014 schema)."""
    made = Path(__file__).parent / "data" / "made-before-the-audit-key.db.gz"
    data = tmp_path / "data"
    data.mkdir()
    (data / "stockpilot.db").write_bytes(gzip.decompress(made.read_bytes()))
    _refused(_cli(data, "audit", "verify"), 1, "older schema")
    assert "Already initialised" in _ok(_cli(data, "init"))  # migrates
    assert _ok(_cli(data, "audit", "verify")) == "My Shop: chain intact (148 entries)\n"
    assert _ok(_cli(data, "ledger", "verify")) == "My Shop: books agree with their ledgers\n"
    _ok(_cli(data, "create-user", "rita", "--role", "cashier", "--password", "rita-pass-123"))
    assert _ok(_cli(data, "audit", "verify", TZ="Asia/Kolkata")) == (
        "My Shop: chain intact (149 entries)\n"
    )
    db = sqlite3.connect(data / "stockpilot.db")
    assert db.execute(
        "SELECT key_id IS NOT NULL FROM audit_entries WHERE seq = 149"
    ).fetchone() == (1,)
    line = _ok(_cli(data, "audit", "checkpoint")).strip()
    db.execute("UPDATE audit_entries SET actor = 'nobody' WHERE seq = 10")
    db.commit()
    db.close()
    result = _cli(data, "audit", "verify", "--checkpoint", line)
    assert result.returncode == 1
    assert "BROKEN: entry 10 was edited (its content does not match its hash)" in result.stdout
