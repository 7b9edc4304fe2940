"""Run Alembic migrations from code: the schema is created only by migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent

# Engine-specific search indexes made by hand in migrations, unknown to the models.
UNMODELLED_PREFIXES = ("product_search_fts", "ix_product_search_trgm")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Tell Alembic's comparison to leave the hand-made search indexes alone."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def alembic_config(url: str) -> Config:
    """Return an Alembic config pointing at our scripts and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (every head: domains migrate side by side)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")


def expected_heads() -> tuple[str, ...]:
    """Return the newest revision of each migration branch in the code."""
    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def current_heads(engine: Engine) -> tuple[str, ...]:
    """Return the revisions the database is at."""
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def is_up_to_date(engine: Engine) -> bool:
    """Say whether every migration in the code has been applied to the database."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = current_heads(engine)
    if not heads:
        return False
    # A revision another one depends on is not recorded as a head, so walk down from the
    # recorded heads (following dependencies too) to everything that has been applied.
    applied = {rev.revision for rev in script.revision_map.iterate_revisions(heads, "base")}
    return set(script.get_heads()) <= applied
