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
