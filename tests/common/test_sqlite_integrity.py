"""The shared integrity check: SQLite's false NULL reports are looked up, real ones kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common.sqlite_files import integrity_problems, is_healthy

# Declared columns in one order, the primary key in another: the shape of the server's
# kept report summaries (tenant_id comes last among the columns, first in the key).
SUMMARY = (
    "CREATE TABLE daily (day TEXT NOT NULL, product_id INTEGER NOT NULL, "
    "lines INTEGER NOT NULL, tenant_id INTEGER NOT NULL, "
    "PRIMARY KEY (tenant_id, day, product_id)) WITHOUT ROWID"
)


def _summary_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute(SUMMARY)
    conn.executemany(
        "INSERT INTO daily VALUES (?, ?, ?, ?)",
        [(f"2026-11-{d:02d}", p, d * p, 1) for d in range(1, 29) for p in range(1, 20)],
    )
    conn.commit()
    return conn


def test_a_summary_table_with_rows_is_intact(tmp_path):
    conn = _summary_db(tmp_path / "shop.db")
    # What this SQLite says about the table does not matter: there is no NULL to find.
    assert integrity_problems(conn) == []
    assert integrity_problems(conn, quick=True) == []
    conn.close()
    assert is_healthy(tmp_path / "shop.db")


def test_a_real_null_in_a_not_null_column_is_still_reported(tmp_path):
    path = tmp_path / "tampered.db"
    conn = _summary_db(path)
    # Someone who read the source loosens the schema, writes a NULL, and tightens it again.
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'lines INTEGER NOT NULL', 'lines INTEGER') "
        "WHERE name = 'daily'"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE daily SET lines = NULL WHERE day = '2026-11-03' AND product_id = 4")
    conn.commit()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'lines INTEGER,', 'lines INTEGER NOT NULL,') "
        "WHERE name = 'daily'"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path)
    assert "NOT NULL" in conn.execute("SELECT sql FROM sqlite_master").fetchone()[0]
    assert integrity_problems(conn) == ["NULL value in daily.lines"]
    assert integrity_problems(conn, quick=True) == ["NULL value in daily.lines"]
    conn.close()
    assert not is_healthy(path)
