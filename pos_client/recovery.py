"""A damaged store at start: keep what can be read, restore the last backup, list the rest.

A power cut can tear a page of the till's file. At start the till checks the file; when it
is damaged it reads every queued event and unsent sale it still can, moves the file aside
(never deleting it), restores the newest healthy backup, queues the rescued events again
and writes, for a manager, the unsent sales it could not rescue. The next sync pulls what
the backup lacks of the catalog and stock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.sqlite_files import is_healthy

BACKUPS_DIRNAME = "backups"
# Written when the till closes normally; a start without it follows a crash or a power cut,
# the only times a page can be torn, so only then is the whole file checked (a check reads
# every page: about a quarter of a second for a 200k-product store).
CLEAN_EXIT = "till.closed-cleanly"


def closed_cleanly(store: Path) -> bool:
    """Say whether the till last closed normally, and forget it (this run may not)."""
    marker = store.parent / CLEAN_EXIT
    clean = marker.exists()
    marker.unlink(missing_ok=True)
    return clean


def mark_closed_cleanly(store: Path) -> None:
    """Note that the till closed normally, so the next start may skip the full check."""
    (store.parent / CLEAN_EXIT).touch()


class StoreDamaged(Exception):
    """The store is damaged and no healthy backup exists; the message says what to do."""


@dataclass(frozen=True)
class Recovery:
    """What a recovery did: the file kept aside, the backup used, events rescued, sales lost."""

    damaged_copy: Path
    backup: Path
    requeued: int
    unrecovered: tuple[str, ...] = field(default=())
    report: Path | None = None

    def message(self) -> str:
        """Say it for a manager in a few lines."""
        text = (
            f"The till's database was damaged (kept at {self.damaged_copy}). It was restored "
            f"from {self.backup.name}; {self.requeued} unsent events were rescued and queued."
        )
        if self.unrecovered:
            text += (
                f" {len(self.unrecovered)} unsent sales could not be rescued: "
                f"{', '.join(self.unrecovered)}. Enter them again from their paper receipts."
            )
        return text


def latest_backup(backups: Path) -> Path | None:
    """Return the newest healthy backup file in a folder, or None."""
    if not backups.is_dir():
        return None
    for path in sorted(backups.glob("*.db"), key=lambda p: p.stat().st_mtime, reverse=True):
        if is_healthy(path):
            return path
    return None


def recover_if_damaged(*, store: Path, backups: Path | None = None) -> Recovery | None:
    """Check the store; if damaged, restore the newest backup and rescue what can be read."""
    from pos_client.backup import restore_store
    from pos_client.store.db import LocalStore

    if not store.exists() or is_healthy(store):
        return None
    backups = backups or store.parent / BACKUPS_DIRNAME
    backup = latest_backup(backups)
    if backup is None:
        raise StoreDamaged(
            f"The till's database {store} is damaged and there is no backup in {backups}. "
            "Do not delete it: call support, who can read the sales still in it."
        )
    events = _rows(store, "SELECT event_id, type, document_id, body, created_at FROM outbox")
    unsent = _rows(
        store, "SELECT receipt_number, event_id FROM sales WHERE synced_at IS NULL", key=1
    )
    result = restore_store(backup=backup, target=store)
    LocalStore(store).close()  # a backup from an older till gets today's schema first
    conn = sqlite3.connect(store)
    try:
        with conn:
            have = {row[0] for row in conn.execute("SELECT event_id FROM outbox")}
            sent = {row[0] for row in conn.execute("SELECT event_id FROM sent_events")}
            rescued = [row for row in events.values() if row[0] not in have | sent]
            conn.executemany(
                "INSERT INTO outbox (event_id, type, document_id, body, created_at, attempts, "
                "rejected) VALUES (?, ?, ?, ?, ?, 0, 0)",
                rescued,
            )
            queued = have | {row[0] for row in rescued}
    finally:
        conn.close()
    lost = tuple(sorted(number for number, event_id in unsent.values() if event_id not in queued))
    recovery = Recovery(
        damaged_copy=result.safety_copy or store,
        backup=backup,
        requeued=len(rescued),
        unrecovered=lost,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = store.parent / f"recovery-{stamp}.txt"
    report.write_text(recovery.message() + "\n", encoding="utf-8")
    return Recovery(**{**recovery.__dict__, "report": report})


def _rows(path: Path, query: str, *, key: int = 0) -> dict[str, tuple[Any, ...]]:
    """Read what rows of a damaged file still can be read, keyed by a column."""
    found: dict[str, tuple[Any, ...]] = {}
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return found
    try:
        try:
            for row in conn.execute(query):
                found[row[key]] = tuple(row)
            return found
        except sqlite3.DatabaseError:
            pass
        # A torn page stops the scan: read the table row by row, skipping what is unreadable.
        table = query.split(" FROM ")[1].split()[0]
        try:
            top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            top = 100_000
        for rowid in range(1, top + 1):
            glue = " AND " if " WHERE " in query else " WHERE "
            try:
                for row in conn.execute(f"{query}{glue}rowid = ?", (rowid,)):
                    found[row[key]] = tuple(row)
            except sqlite3.DatabaseError:
                continue
        return found
    finally:
        conn.close()
