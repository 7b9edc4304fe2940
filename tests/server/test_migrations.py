"""The schema comes only from migrations, and it matches the models on both engines."""

from __future__ import annotations

import sys
import textwrap

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sync_server.migrations.runner import (
    alembic_config,
    current_heads,
    expected_heads,
    include_object,
    is_up_to_date,
    upgrade,
)
from sync_server.models import metadata


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_object": include_object}
        )
        diff = compare_metadata(context, metadata)
    summary = [
        (op[0], getattr(op[1], "name", op[1])) if isinstance(op, tuple) else op for op in diff
    ]
    assert diff == [], f"models and migrations disagree: {summary}"


def test_database_is_at_every_head_and_upgrading_again_is_a_no_op(engine):
    assert is_up_to_date(engine)
    heads = set(current_heads(engine))
    assert heads and heads <= set(expected_heads())
    upgrade(engine)
    assert set(current_heads(engine)) == heads


def test_history_has_one_head():
    assert len(expected_heads()) == 1


def test_database_made_on_the_branched_history_upgrades_to_the_one_head(tmp_path):
    """A database migrated before the history was made linear (one version recorded per
    domain branch) upgrades in place and keeps its data."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from sync_server.migrations.runner import alembic_config

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    # The branched release's schema: everything up to its last revision, nothing newer.
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0014_feed_sequencer")
    old_heads = [
        "0002_inventory", "0004_sync", "0006_wholesale", "0007_orders", "0008_search",
        "0009_reports", "0010_ratelimit", "0011_sms", "0012_po_shipping",
        "0013_notification_attachments", "0014_feed_sequencer",
    ]  # fmt: skip
    with engine.begin() as connection:
        # What the previous release left in alembic_version: one row per branch head.
        connection.execute(text("DELETE FROM alembic_version"))
        for head in old_heads:
            connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
        connection.execute(
            text(
                "INSERT INTO tenants (id, name, currency, created_at) "
                "VALUES (7, 'Old Shop', 'INR', '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine)
    assert current_heads(engine) == expected_heads()
    assert len(current_heads(engine)) == 1
    assert is_up_to_date(engine)
    with engine.connect() as connection:
        name = connection.execute(text("SELECT name FROM tenants WHERE id = 7")).scalar()
    assert name == "Old Shop"


def test_a_branched_database_missing_a_middle_migration_is_refused():
    from sync_server.migrations.runner import BranchedHistoryError, _linear_position

    linear = ["0001_core", "0002_inventory", "0003_credit", "0014_feed_sequencer"]
    assert _linear_position(("0003_credit", "0002_inventory"), linear) == "0003_credit"
    import pytest

    with pytest.raises(BranchedHistoryError):
        _linear_position(("0014_feed_sequencer", "0002_inventory"), linear)


def test_the_cheap_head_is_alembics_head():
    from sync_server.migrations.heads import linear_head

    assert (linear_head(),) == expected_heads()


def test_a_database_at_the_head_is_known_so_without_alembic(engine):
    from sync_server.migrations.heads import database_heads, is_at_head

    assert database_heads(engine) == current_heads(engine)
    assert is_at_head(engine)


def test_a_database_behind_the_head_is_not_at_it_and_upgrades_as_before(tmp_path):
    from sqlalchemy import create_engine

    from sync_server.migrations.heads import database_heads, is_at_head, linear_head

    engine = create_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    assert database_heads(engine) == ()  # no version table yet
    assert not is_at_head(engine)
    assert not is_up_to_date(engine)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0029_credential_directory")
    assert database_heads(engine) == ("0029_credential_directory",) == current_heads(engine)
    assert not is_at_head(engine)
    assert not is_up_to_date(engine)
    upgrade(engine)
    assert database_heads(engine) == (linear_head(),) == current_heads(engine)
    assert is_at_head(engine)
    assert is_up_to_date(engine)


def _migration(revision: str, down: str | None, *, extra: str = "") -> str:
    down_text = "None" if down is None else f'"{down}"'
    return textwrap.dedent(
        f'''\
        """{revision}

        Revision ID: {revision}
        """

        revision: str = "{revision}"
        down_revision: str | Sequence[str] | None = {down_text}
        branch_labels: str | Sequence[str] | None = None
        depends_on: str | Sequence[str] | None = None
        {extra}
        '''
    )


@pytest.mark.parametrize(
    ("files", "head"),
    [
        ({"a": ("a", None), "b": ("b", "a"), "c": ("c", "b")}, "c"),
        ({"a": ("a", None), "b": ("b", "a"), "c": ("c", "a")}, None),  # a fork: two heads
        ({"a": ("a", None), "b": ("b", None)}, None),  # two roots
        ({"a": ("a", None), "b": ("b", "x")}, None),  # an unknown parent
        ({"a": ("a", None), "b": ("b", "a"), "c": ("c", "d"), "d": ("d", "c")}, None),  # a loop
        ({"a": ("a", None), "b": ("b", "a"), "b2": ("b", "a")}, None),  # one revision twice
    ],
)
def test_the_cheap_head_answers_only_for_one_plain_line(tmp_path, files, head):
    from sync_server.migrations.heads import linear_head

    for name, (revision, down) in files.items():
        (tmp_path / f"{name}.py").write_text(_migration(revision, down), encoding="utf-8")
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    assert linear_head(tmp_path) == head


def test_a_migration_as_the_template_writes_it_is_read(tmp_path):
    from sync_server.migrations.heads import linear_head

    (tmp_path / "a.py").write_text(_migration("a", None), encoding="utf-8")
    unformatted = _migration("b", "a").replace('"b"', "'b'").replace('"a"', "'a'")
    assert "revision: str = 'b'" in unformatted
    (tmp_path / "b.py").write_text(unformatted, encoding="utf-8")
    assert linear_head(tmp_path) == "b"


@pytest.mark.parametrize(
    "extra",
    [
        'depends_on = "a"',  # a second assignment
        'revision = "z"',
        "down_revision = ('a', 'b')",  # a merge, written as a tuple
    ],
)
def test_a_migration_not_plainly_written_leaves_the_answer_to_alembic(tmp_path, extra):
    from sync_server.migrations.heads import linear_head

    (tmp_path / "a.py").write_text(_migration("a", None), encoding="utf-8")
    (tmp_path / "b.py").write_text(_migration("b", "a", extra=extra), encoding="utf-8")
    assert linear_head(tmp_path) is None


def test_a_command_on_a_current_database_does_not_import_alembic(tmp_path):
    """The schema check of the commands (audit, ledger, reports, worker) is the cheap one."""
    from tests.clitools import SERVER, ok, run

    data = tmp_path / "data"
    ok(run(SERVER, "init", "--admin-password", "Secret-pass-123", data_dir=data))
    code = textwrap.dedent(
        """\
        import sys
        from sync_server.cli import main
        assert main(["audit", "verify"]) == 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"alembic", "mako"})
        assert not loaded, loaded
        """
    )
    out = ok(run(sys.executable, "-c", code, data_dir=data))
    assert out == "My Shop: chain intact (2 entries)\n"
