"""Whether a database is at the migrations' head, answered without importing Alembic.

Every command that needs the current schema asks this once; Alembic (with its template
engine) costs ~0.2 s of CPU to import and its script directory ~40 ms to read, on every
command process. When the database records exactly the head of the code's one linear
history, that is the whole answer. Anything else (an older database, the old branched
history, a migration file this strict reading does not understand) goes to Alembic:
sync_server/migrations/runner.py is_up_to_date, which calls this first.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS = Path(__file__).resolve().parent / "versions"
# Alembic's own table (its default name; env.py does not change it).
VERSION_TABLE = "alembic_version"

# A module-level assignment of one of Alembic's revision identifiers, as every migration
# file writes it: `name: <annotation> = "<text>"` (or 'text', as script.py.mako writes it
# before formatting) or `= None`, at the start of a line.
_ASSIGNMENT = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\b[^=\n]*="
    r"""\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)'|None)\s*$""",
    re.MULTILINE,
)
_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


def _read(path: Path) -> tuple[str, str | None] | None:
    """Return (revision, down_revision) of one file, or None unless it is plainly written.

    Each identifier must be assigned once at the top level, to a string or None; labels and
    dependencies must be None (the history is one line without them).
    """
    found: dict[str, str | None] = {}
    source = path.read_text(encoding="utf-8")
    for match in _ASSIGNMENT.finditer(source):
        name = match.group(1)
        if name in found:
            return None
        found[name] = match.group(2) if match.group(2) is not None else match.group(3)
    # Any other top-level line naming an identifier (a tuple, a second assignment in
    # another form) means the file is not as plain as this reading needs.
    mentions = re.findall(rf"^({'|'.join(_NAMES)})\b", source, re.MULTILINE)
    if sorted(mentions) != sorted(found) or set(found) != set(_NAMES):
        return None
    revision = found["revision"]
    if not revision or found["branch_labels"] is not None or found["depends_on"] is not None:
        return None
    return revision, found["down_revision"]


def _migration_files(versions: Path) -> list[Path]:
    # The files Alembic reads as migrations: *.py but __init__.py and editors' lock files.
    return [
        path
        for path in sorted(versions.glob("*.py"))
        if not path.name.startswith(("__init__", ".#"))
    ]


@functools.cache
def linear_head(versions: Path = VERSIONS) -> str | None:
    """Return the head of the one linear history in the files, or None if not plainly one.

    Read once a process: the migrations change only with a new release, which starts new
    processes.
    """
    parents: dict[str, str | None] = {}
    for path in _migration_files(versions):
        read = _read(path)
        if read is None or read[0] in parents:
            return None
        parents[read[0]] = read[1]
    roots = [rev for rev, down in parents.items() if down is None]
    children: dict[str, str] = {}
    for rev, down in parents.items():
        if down is not None:
            if down not in parents or down in children:
                return None  # an unknown parent, or a fork
            children[down] = rev
    if len(roots) != 1:
        return None
    # Walk the line from its root: every revision must be on it.
    head = roots[0]
    seen = 1
    while head in children:
        head = children[head]
        seen += 1
    return head if seen == len(parents) else None


def database_heads(engine: Engine) -> tuple[str, ...]:
    """Return the revisions the database records, () when it has no version table."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return ()
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return tuple(row[0] for row in rows)


def is_at_head(engine: Engine) -> bool:
    """Say whether the database records exactly the head of the code's linear history.

    False means "not known here", not "out of date": ask runner.is_up_to_date then.
    """
    head = linear_head()
    return head is not None and database_heads(engine) == (head,)


def is_up_to_date(engine: Engine) -> bool:
    """Say whether every migration in the code has been applied, Alembic only if not at head.

    The server's /health asks this; at the head (nearly always) one query answers it, and
    the server process need not import Alembic at all (~0.3 s of CPU at every start).
    """
    if is_at_head(engine):
        return True
    # Imported here, not at the top: Alembic is the cost this module exists to avoid.
    from sync_server.migrations import runner

    return runner.is_up_to_date(engine)


def upgrade_if_behind(engine: Engine) -> None:
    """Migrate the database to the head, importing Alembic only when it is not there already.

    A command or server start on a database at the head (most of them) answers this with
    one query; a new, older or unplainly recorded database goes to runner.upgrade.
    """
    if is_at_head(engine):
        return
    from sync_server.migrations.runner import upgrade

    upgrade(engine)
