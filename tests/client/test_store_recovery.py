"""The till's start-up check of its store (the whole scenario: tests/chaos/test_torn_page.py)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from pos_client.recovery import (
    StoreDamaged,
    closed_cleanly,
    mark_closed_cleanly,
    recover_if_damaged,
)
from pos_client.store.db import LocalStore


def _store(tmp_path):
    path = tmp_path / "till" / "till.db"
    LocalStore(path).close()
    return path


def _tear(path) -> None:
    conn = sqlite3.connect(path)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((pages // 2) * size)
        handle.write(os.urandom(size))


def test_a_healthy_store_is_left_alone(tmp_path):
    path = _store(tmp_path)
    before = path.read_bytes()
    assert recover_if_damaged(store=path) is None
    assert path.read_bytes() == before


def test_a_damaged_store_without_a_backup_is_kept_and_the_till_says_call_support(tmp_path):
    path = _store(tmp_path)
    _tear(path)
    damaged = path.read_bytes()
    with pytest.raises(StoreDamaged, match="call support"):
        recover_if_damaged(store=path)
    assert path.read_bytes() == damaged  # nothing deleted, nothing written over


def test_only_a_start_after_a_crash_checks_the_whole_file(tmp_path):
    path = _store(tmp_path)
    assert not closed_cleanly(path)  # first start (or after a crash): check
    mark_closed_cleanly(path)
    assert closed_cleanly(path)  # after a normal close: skip
    assert not closed_cleanly(path)  # the marker is spent: a crash now is noticed next time
