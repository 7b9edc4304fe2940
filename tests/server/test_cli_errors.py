"""stockpilot-server with bad input, and its tenant, branch and user commands, as separate
processes on real data dirs: one-line messages, exit 2 for bad usage, 1 for a failure, never a
traceback, nothing half made. Of the many refusals of one command, the first runs as a process
and the others run its main() in the test process, with the same environment (run_here).

One initialised data dir is made per module and copied for each test (hashing passwords with
Argon2 again and again would make these slow).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync_server.cli import main
from tests.clitools import SERVER, copy_dir, free_port, ok, refused, run, run_here

PROG = "stockpilot-server"


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    """A data dir after init (business 'My Shop', admin 'admin', branch MAIN) + branch AND."""
    data = tmp_path_factory.mktemp("initialised") / "data"
    ok(
        run(
            SERVER,
            "init",
            "--tenant",
            "My Shop",
            "--admin-password",
            "admin-password-1",
            data_dir=data,
        )
    )
    ok(run(SERVER, "branch", "add", "--code", "AND", "--name", "Andheri", data_dir=data))
    return data


@pytest.fixture
def data(initialised, tmp_path) -> Path:
    return copy_dir(initialised, tmp_path / "data")


def _rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "stockpilot.db") as conn:
        return conn.execute(sql).fetchall()


ON_AN_INITIALISED_DIR = [
    (["create-user", "bob"], 2, "give --password: there is no terminal"),
    (["create-user", "bob", "--password", "short"], 2, "--password: String should have at least 8"),
    (
        ["create-user", "bob", "--password", "long-password", "--pin", "12"],
        2,
        "--pin: must be 4 to 8 digits",
    ),
    (["create-user", "bo", "--password", "long-password"], 2, "username: String should have"),
    (
        ["create-user", "admin", "--password", "long-password"],
        1,
        "The username 'admin' is not available; choose another.",
    ),
    (
        ["create-user", "bob", "--password", "long-password", "--branch", "NOPE"],
        2,
        "No branch with code 'NOPE' in My Shop",
    ),
    (
        ["create-user", "bob", "--password", "long-password", "--tenant", "Nope"],
        2,
        "No business named 'Nope'",
    ),
    (["create-user", "bob", "--role", "king"], 2, "invalid choice: 'king'"),
    (
        ["tenant", "create", "My Shop", "--admin-username", "other-admin"],
        1,
        "A business named 'My Shop' already exists",
    ),
    (["tenant", "create", "New", "--admin-username", "ab"], 2, "--admin-username: String should"),
    (
        ["tenant", "create", "New", "--admin-username", "admin", "--admin-password", "long-pass"],
        1,
        "'admin' is not available",
    ),
    (
        ["tenant", "create", "New", "--admin-username", "new-admin", "--currency", "rupees"],
        2,
        "--currency: must be a three-letter currency code",
    ),
    (
        ["tenant", "create", "New", "--admin-username", "new-admin", "--branch-code", "a b"],
        2,
        "--branch-code: may hold only letters, digits and -",
    ),
    (["branch", "add", "--code", "MAIN", "--name", "Again"], 1, "code 'MAIN' already exists"),
    (["branch", "add", "--code", "A B", "--name", "X"], 2, "--code: may hold only"),
    (["branch", "add", "--code", "X1"], 2, "the following arguments are required: --name"),
    (
        ["api-key", "create", "--scopes", "orders:write", "--branch-ids", "x"],
        2,
        "--branch-ids takes numbers",
    ),
    (["api-key", "revoke", "999"], 1, "There is no API key with id 999"),
    (["device", "enrol-code", "--branch", "NOPE"], 2, "No branch with code 'NOPE'"),
    (["bogus"], 2, "invalid choice: 'bogus'"),
    ([], 2, "the following arguments are required: COMMAND"),
    (["serve", "--port", "abc"], 2, "argument --port: 'abc' is not a whole number"),
    (["serve", "--workers", "0"], 2, "argument --workers: 0 is not between 1 and 256"),
    (
        ["device", "enrol-code", "--branch", "MAIN", "--valid-minutes", "-5"],
        2,
        "-5 is not between 1 and 43200",
    ),
]


def _command(args: list[str]) -> tuple[str, ...]:
    """The command a case runs: `create-user`, `tenant create`, `api-key revoke`, ..."""
    groups = ("tenant", "branch", "api-key", "device")
    return tuple(args[:2]) if args and args[0] in groups else tuple(args[:1])


def _in_a_process(cases: list[tuple[list[str], int, str]], args: list[str]) -> bool:
    """Whether this case is its command's first in cases: that one runs as a process of its
    own; the command's other refusals run its main() in the test process (run_here)."""
    firsts = {}
    for case_args, _, _ in cases:
        firsts.setdefault(_command(case_args), case_args)
    return firsts[_command(args)] == args


def _run(cases, args: list[str], *, data_dir: Path) -> subprocess.CompletedProcess[str]:
    if _in_a_process(cases, args):
        return run(SERVER, *args, data_dir=data_dir)
    return run_here(main, *args, data_dir=data_dir)


@pytest.mark.parametrize(("args", "code", "says"), ON_AN_INITIALISED_DIR)
def test_bad_input_on_an_initialised_server_is_one_line_and_changes_nothing(data, args, code, says):
    before = _rows(data, "SELECT count(*) FROM audit_entries")
    refused(_run(ON_AN_INITIALISED_DIR, args, data_dir=data), code=code, says=says, prog=PROG)
    assert _rows(data, "SELECT count(*) FROM audit_entries") == before
    assert _rows(data, "SELECT name FROM tenants") == [("My Shop",)]
    assert _rows(data, "SELECT count(*) FROM users") == [(1,)]


BEFORE_INIT = [
    (["init", "--admin-username", "ab"], 2, "--admin-username: String should have at least 3"),
    (["init", "--admin-pin", "12"], 2, "--admin-pin: must be 4 to 8 digits"),
    (["init", "--admin-password", "short"], 2, "--admin-password: String should have at least 8"),
    (["create-user", "bob", "--password", "long-password"], 1, "not initialised"),
    (["create-user", "bob"], 1, "not initialised"),
    (["audit", "verify"], 1, "not initialised"),
    (["api-key", "create", "--scopes", "orders:write,catalog:read"], 1, "not initialised"),
    (["branch", "add", "--code", "AND", "--name", "Andheri"], 1, "not initialised"),
    (["tenant", "list"], 1, "not initialised"),
    (["device", "enrol-code", "--branch", "AND"], 1, "not initialised"),
    (["demo-data"], 1, "not initialised"),
    (["reports", "refresh"], 1, "not initialised"),
    (["orders", "expire"], 1, "not initialised"),
    (["worker", "--once"], 1, "not initialised"),
    (["ledger", "verify"], 1, "not initialised"),
]


@pytest.mark.parametrize(("args", "code", "says"), BEFORE_INIT)
def test_bad_input_before_init_is_one_line_and_makes_no_database(tmp_path, args, code, says):
    data = tmp_path / "fresh"
    refused(_run(BEFORE_INIT, args, data_dir=data), code=code, says=says, prog=PROG)
    assert not (data / "stockpilot.db").exists()
    assert not (data / "audit.key").exists()


def test_a_bad_setting_or_an_unreachable_database_is_one_line(tmp_path):
    refused(
        run(SERVER, "audit", "verify", data_dir=tmp_path, STOCKPILOT_ACCESS_TOKEN_MINUTES="abc"),
        code=2,
        says="access_token_minutes",
        prog=PROG,
    )
    refused(
        run(SERVER, "serve", data_dir=tmp_path, STOCKPILOT_TENANT_API="true"),
        code=2,
        says="STOCKPILOT_TENANT_API is on but STOCKPILOT_OPERATOR_KEY is missing",
        prog=PROG,
    )
    nowhere = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    refused(
        run(SERVER, "audit", "verify", data_dir=tmp_path, STOCKPILOT_DATABASE_URL=nowhere),
        code=1,
        says="cannot use the database",
        prog=PROG,
    )


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_log(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from common.cli import run_guarded

        def body():
            raise RuntimeError("the disk said no")

        sys.exit(run_guarded(prog="{PROG}", body=body, log_dirs=lambda: [Path({str(tmp_path)!r})]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    line = refused(
        result, code=1, says="unexpected error (RuntimeError: the disk said no)", prog=PROG
    )
    log = tmp_path / f"{PROG}-errors.log"
    assert str(log) in line
    assert "Traceback" in log.read_text() and "the disk said no" in log.read_text()


def test_init_twice_changes_nothing_and_says_how_to_add_a_business(data):
    out = ok(run(SERVER, "init", "--tenant", "Other", data_dir=data))
    assert "Already initialised" in out and "tenant create" in out
    assert _rows(data, "SELECT name FROM tenants") == [("My Shop",)]


def test_init_made_a_first_branch_and_the_admin_works_there(data):
    assert _rows(data, "SELECT code, name FROM branches ORDER BY id") == [
        ("MAIN", "Main store"),
        ("AND", "Andheri"),
    ]
    assert _rows(
        data,
        "SELECT b.code FROM user_branches ub JOIN branches b ON b.id = ub.branch_id "
        "JOIN users u ON u.id = ub.user_id WHERE u.username = 'admin'",
    ) == [("MAIN",)]


def test_init_with_no_branch_says_how_to_add_one(tmp_path):
    out = ok(
        run(
            SERVER,
            "init",
            "--no-branch",
            "--admin-password",
            "admin-password-1",
            data_dir=tmp_path / "d",
        )
    )
    assert "none yet; add one with 'stockpilot-server branch add" in out
    assert _rows(tmp_path / "d", "SELECT count(*) FROM branches") == [(0,)]


def test_create_user_with_branches_links_them(data):
    out = ok(
        run(
            SERVER,
            "create-user",
            "priya",
            "--role",
            "manager",
            "--password",
            "long-password",
            "--pin",
            "2468",
            "--branch",
            "and",
            "--branch",
            "MAIN",
            data_dir=data,
        )
    )
    assert "Created manager 'priya'" in out and "at AND, MAIN in My Shop" in out
    codes = _rows(
        data,
        "SELECT b.code FROM user_branches ub JOIN branches b ON b.id = ub.branch_id "
        "JOIN users u ON u.id = ub.user_id WHERE u.username = 'priya' ORDER BY b.code",
    )
    assert codes == [("AND",), ("MAIN",)]


def test_tenant_create_then_commands_need_to_know_which_business(data):
    out = ok(
        run(
            SERVER,
            "tenant",
            "create",
            "Shop B",
            "--admin-username",
            "b-admin",
            "--admin-password",
            "b-long-password",
            "--currency",
            "usd",
            "--branch-code",
            "B1",
            "--branch-name",
            "B One",
            data_dir=data,
        )
    )
    assert "Created business 'Shop B'" in out and "B One (code B1)" in out
    assert "password:" not in out  # given, so not shown
    listed = ok(run(SERVER, "tenant", "list", data_dir=data)).splitlines()
    assert listed[1:] == ["1\tMy Shop\tINR\t2\t1", "2\tShop B\tUSD\t1\t1"]
    # The currency documents read is the business's own.
    assert _rows(
        data, "SELECT value FROM tenant_settings WHERE key = 'currency' AND tenant_id = 2"
    ) == [('"USD"',)]

    refused(
        run(SERVER, "create-user", "sam", "--password", "long-password", data_dir=data),
        code=2,
        says="Several businesses share this server; say which with --tenant NAME.",
        prog=PROG,
    )
    ok(
        run(
            SERVER,
            "create-user",
            "sam",
            "--password",
            "long-password",
            "--tenant",
            "Shop B",
            "--branch",
            "B1",
            data_dir=data,
        )
    )
    ok(
        run(
            SERVER,
            "branch",
            "add",
            "--code",
            "B2",
            "--name",
            "B Two",
            "--kind",
            "warehouse",
            "--tenant",
            "Shop B",
            data_dir=data,
        )
    )
    branches = ok(run(SERVER, "branch", "list", "--tenant", "Shop B", data_dir=data))
    assert "B1\tstore\tB One" in branches and "B2\twarehouse\tB Two" in branches
    assert "AND" not in branches
    assert _rows(data, "SELECT tenant_id FROM users WHERE username = 'sam'") == [(2,)]
    # A code of another business's branch is not this business's.
    refused(
        run(
            SERVER,
            "create-user",
            "kim",
            "--password",
            "long-password",
            "--tenant",
            "Shop B",
            "--branch",
            "AND",
            data_dir=data,
        ),
        code=2,
        says="No branch with code 'AND' in Shop B",
        prog=PROG,
    )


def test_a_username_used_in_another_business_is_refused_with_the_same_words(data):
    ok(
        run(
            SERVER,
            "tenant",
            "create",
            "Shop B",
            "--admin-username",
            "b-admin",
            "--admin-password",
            "b-long-password",
            data_dir=data,
        )
    )
    here = refused(
        run(
            SERVER,
            "create-user",
            "admin",
            "--password",
            "long-password",
            "--tenant",
            "My Shop",
            data_dir=data,
        ),
        code=1,
        says="not available",
        prog=PROG,
    )
    elsewhere = refused(
        run(
            SERVER,
            "create-user",
            "admin",
            "--password",
            "long-password",
            "--tenant",
            "Shop B",
            data_dir=data,
        ),
        code=1,
        says="not available",
        prog=PROG,
    )
    assert (
        here
        == elsewhere
        == ("stockpilot-server: The username 'admin' is not available; choose another.")
    )


def test_every_other_command_works_in_a_fresh_process(data, demo_shop):
    """The commands the READMEs do not show, each in its own process (all models loaded)."""
    key = ok(
        run(SERVER, "api-key", "create", "--scopes", "orders:write", "--name", "web", data_dir=data)
    )
    key_id = key.split()[3]
    assert f"{key_id}\t" in ok(run(SERVER, "api-key", "list", data_dir=data))
    assert "Revoked API key" in ok(run(SERVER, "api-key", "revoke", key_id, data_dir=data))
    assert "Expired 0 unpaid order(s)" in ok(run(SERVER, "orders", "expire", data_dir=data))
    ok(run(SERVER, "reports", "refresh", data_dir=data))
    assert "Delivered" in ok(run(SERVER, "worker", "--once", data_dir=data))
    assert "chain intact" in ok(run(SERVER, "audit", "verify", data_dir=data))
    # The demo brings its own branches (AND among them): on a plain init (the run's demo shop,
    # made by `init` and `demo-data` processes: tests/conftest.py), not the copy above.
    assert "Demo data loaded" in ok(demo_shop.demo)
    refused(
        run(SERVER, "demo-data", data_dir=data),
        code=1,
        says="already holds data",
        prog=PROG,
    )
