"""Range partitions of the large tables on PostgreSQL: made ahead of use, dropped when expired.

Migration 0027_partitions turned sale_lines, stock_movements and change_feed into tables
partitioned by RANGE (id). Their ids come from one sequence each and only grow, so an id
range is a time range (pg_partman's id-based mode), and neither their primary keys nor the
foreign keys and queries that use them had to change. Each table also has a DEFAULT
partition, so a row whose id is past the last range is still stored. Each range has its own
primary key, (id, tenant_id) (ranges never overlap, so ids stay unique; the parent has none, so that
pg_restore --clean can replace a database). The keeper keeps
`ahead` empty ranges beyond the newest id, and moves any row the default caught into a
proper range before it attaches one over it. SQLite keeps plain tables.

Everything here runs under one transaction-scoped advisory lock: several app servers and
workers may call it at once, and one does the work while the others skip the round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

# The partitioned tables and the width (in ids) of a range the keeper adds.
PARTITIONED: dict[str, int] = {
    "change_feed": 10_000_000,
    "sale_lines": 10_000_000,
    "stock_movements": 10_000_000,
}
AHEAD = 2
# pg_try_advisory_xact_lock key of partition maintenance (any fixed 64-bit number).
LOCK_KEY = 0x5350_5041_5254  # "SPPART"
# Unique keys without id, enforced per range (PostgreSQL enforces a unique key on a
# partitioned table only when it holds the partition column): table -> (suffix, columns).
PER_RANGE_UNIQUE: dict[str, tuple[str, str]] = {
    "change_feed": ("tenant_seq", "tenant_id, seq"),
    "stock_movements": ("tenant_uuid", "tenant_id, uuid"),
}
# Their names in the models: the schema comparison expects them on SQLite only.
PER_RANGE_CONSTRAINTS = ("uq_change_feed_tenant_id_seq", "uq_stock_movements_tenant_id_uuid")

# A range or default partition of one of the tables (they are not in the models).
PARTITION_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_(from_\d+|default)$")

_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True)
class Partition:
    name: str
    low: int  # inclusive
    high: int  # exclusive


def partitions(session: Session, table: str) -> list[Partition]:
    """Return the table's range partitions in id order (the default partition left out)."""
    rows = session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).all()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append(Partition(name, int(match.group(1)), int(match.group(2))))
    return sorted(found, key=lambda p: p.low)


def partition_name(table: str, low: int) -> str:
    """Name a range partition after its first id."""
    return f"{table}_from_{low}"


def _last_id(session: Session, table: str) -> int:
    """Return the newest id the table's sequence handed out (0 before the first)."""
    value = session.scalar(
        text("SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(:t, 'id') AS regclass))"),
        {"t": table},
    )
    return int(value or 0)


def add_partition(session: Session, table: str, *, low: int, high: int) -> str:
    """Add the range [low, high), moving into it any row the default partition caught.

    The range is made as a table of its own and then attached: ATTACH takes only a SHARE
    UPDATE EXCLUSIVE lock on the partitioned table (CREATE TABLE ... PARTITION OF would take
    ACCESS EXCLUSIVE), so reads and writes of the other ranges go on meanwhile.
    """
    name = partition_name(table, low)
    default = f"{table}_default"
    session.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
    # Each range's own primary key (the parent has none: see migration 0027_partitions),
    # with the tenant in it like every tenant row's (migration 0028_tenant_keys).
    session.execute(
        text(f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY (id, tenant_id)")
    )
    if table in PER_RANGE_UNIQUE:
        suffix, columns = PER_RANGE_UNIQUE[table]
        session.execute(text(f"CREATE UNIQUE INDEX {name}_{suffix} ON {name} ({columns})"))
    caught = session.scalar(
        text(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE id >= :lo AND id < :hi)"),
        {"lo": low, "hi": high},
    )
    if caught:
        # Inserts into the default wait for this short transaction; the rows move over.
        session.execute(text(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"))
        session.execute(
            text(
                f"WITH moved AS (DELETE FROM {default} WHERE id >= :lo AND id < :hi "
                f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            {"lo": low, "hi": high},
        )
    # Checks the default holds no row of the range (a row that landed since the look makes
    # this fail, and the next round moves it).
    session.execute(
        text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    )
    return name


def ensure_ahead(
    session: Session, table: str, *, width: int | None = None, ahead: int = AHEAD
) -> list[str]:
    """Keep `ahead` empty ranges beyond the newest id; return the partitions added."""
    width = width or PARTITIONED[table]
    existing = partitions(session, table)
    newest = _last_id(session, table)
    high = existing[-1].high if existing else 0
    if newest >= high + width:
        # Ids jumped far past the last range: the default keeps the gap's rows, and ranges
        # start again (on the same grid) at the one holding the newest id.
        high = newest - (newest - high) % width
    added = []
    while high <= newest + ahead * width:
        added.append(add_partition(session, table, low=high, high=high + width))
        high += width
    return added


def lock_maintenance(session: Session) -> bool:
    """Take the maintenance lock for this transaction; False when another process holds it."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}))


def expired_prefix(
    session: Session, table: str, *, before: datetime, time_column: str = "at"
) -> list[Partition]:
    """Return the oldest ranges whose newest row is older than `before`, oldest first.

    Stops at the first range that holds a newer row: only a prefix of the
    table is ever dropped, and never the range that receives new ids.
    """
    ranges = partitions(session, table)
    newest = _last_id(session, table)
    out = []
    for part in ranges:
        if part.high > newest:
            break  # this range (or a later one) still receives ids
        # The newest row by id is (to the millisecond) the newest in time: one index probe
        # per round; the caller checks every row before it drops the range.
        latest = session.scalar(
            text(f"SELECT {time_column} FROM {part.name} ORDER BY id DESC LIMIT 1")
        )
        if latest is not None and latest >= before:
            break  # an empty range below the newest id never fills: it may go
        out.append(part)
    return out
