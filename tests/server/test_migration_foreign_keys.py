"""On SQLite, migrations run as SQLite prescribes for schema changes: foreign keys off, all of
them checked before the upgrade commits.

A batch migration rebuilds a table by copying it and dropping the old one. With foreign keys
on, that drop deletes the rows of the table's ON DELETE CASCADE children: rebuilding `users`
would lose every user's branches. The tests add a migration of their own on top of the real
history and run the real runner on a copy of the test world.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from sync_server.db import make_engine
from sync_server.migrations import runner

MIGRATIONS = Path(runner.__file__).resolve().parent

REBUILD_USERS = """
from alembic import op

revision = "9999_test_extra"
down_revision = "{head}"


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="always"):
        pass


def downgrade() -> None:
    pass
"""

DANGLING_LINK = """
import sqlalchemy as sa
from alembic import op

revision = "9999_test_extra"
down_revision = "{head}"


def upgrade() -> None:
    op.execute(
        sa.text(
            "INSERT INTO user_branches (user_id, branch_id, tenant_id) "
            "SELECT 987654, branch_id, tenant_id FROM user_branches LIMIT 1"
        )
    )


def downgrade() -> None:
    pass
"""


@pytest.fixture
def world_copy(sqlite_world_template, tmp_path: Path):
    path = tmp_path / "world.db"
    shutil.copyfile(sqlite_world_template[0], path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _history_with(extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (head,) = runner.expected_heads()
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_test_extra.py").write_text(extra.format(head=head))
    monkeypatch.setattr(runner, "HERE", scripts)


def _links(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM user_branches")).scalar_one()


def _foreign_keys_on(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one())


def test_rebuilding_a_parent_table_keeps_its_cascading_children(world_copy, tmp_path, monkeypatch):
    links = _links(world_copy)
    assert links > 0, "the test world gives users branches"
    _history_with(REBUILD_USERS, tmp_path, monkeypatch)

    runner.upgrade(world_copy)

    assert runner.current_heads(world_copy) == ("9999_test_extra",)
    assert _links(world_copy) == links
    assert _foreign_keys_on(world_copy), "the connection goes back to the pool enforcing keys"


def test_an_upgrade_leaving_a_dangling_foreign_key_changes_nothing(
    world_copy, tmp_path, monkeypatch
):
    (head,) = runner.expected_heads()
    links = _links(world_copy)
    _history_with(DANGLING_LINK, tmp_path, monkeypatch)

    with pytest.raises(runner.ForeignKeyCheckError, match="user_branches"):
        runner.upgrade(world_copy)

    assert runner.current_heads(world_copy) == (head,)
    assert _links(world_copy) == links
    assert _foreign_keys_on(world_copy)


def test_the_command_line_gives_the_refusal_in_one_line():
    from sync_server.cli_support import translate_db_error

    refusal = runner.ForeignKeyCheckError("the upgrade would leave 1 row(s) in user_branches …")
    error = translate_db_error(refusal)
    assert error is not None and error.message == str(refusal)
