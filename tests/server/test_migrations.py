"""The schema comes only from migrations, and it matches the models on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sync_server.migrations.runner import (
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
