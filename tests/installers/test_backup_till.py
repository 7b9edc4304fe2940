"""stockpilot-till backup / restore of the local store, and where the till keeps it."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from common.ids import new_id
from common.sync.protocol import ChangeOp, PulledChange, SaleCompleted, SaleLine, SalePayment
from pos_client import config, paths
from pos_client.backup import main_backup
from pos_client.store import documents, replica
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, Sale, StockLevel
from pos_client.store.models import SaleLine as SaleLineRow

BRANCH = 3
OPENING_STOCK = Decimal("100000")
QTY = Decimal("2")


def _sale(session) -> SaleCompleted:
    price = Decimal("10.50")
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=documents.next_receipt_number(session),
        branch_id=BRANCH,
        lines=[
            SaleLine(
                line_id=new_id(),
                product_id=1,
                sku="TEA",
                name="Tea",
                quantity=QTY,
                unit_price=price,
                total=price * QTY,
            )
        ],
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=price * QTY)],
        subtotal=price * QTY,
        total=price * QTY,
    )


def _open_till(data_dir: Path) -> LocalStore:
    """Open a till store as the till does, enrolled and with one product in stock."""
    store = LocalStore(paths.store_path(data_dir))
    with store.transaction() as session:
        documents.configure_device(
            session,
            device_id=new_id(),
            token="spd_x",
            tenant_id=1,
            branch_id=BRANCH,
            branch_code="AND",
            receipt_prefix="AND-T01",
        )
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="product",
                    key="1",
                    op=ChangeOp.UPSERT,
                    data={
                        "id": 1,
                        "sku": "TEA",
                        "name": "Tea",
                        "price": "10.50",
                        "barcodes": ["5901234123457"],
                    },
                ),
                PulledChange(
                    entity="stock",
                    key="1",
                    op=ChangeOp.UPSERT,
                    data={"product_id": 1, "on_hand": str(OPENING_STOCK)},
                ),
            ],
        )
    return store


def _sale_ids(store: LocalStore) -> set[str]:
    with store.transaction() as session:
        return set(session.scalars(select(Sale.id)))


def test_backup_while_selling_then_wipe_and_restore_finds_every_sale_whole(tmp_path, capsys):
    data_dir = tmp_path / "till"
    store = _open_till(data_dir)
    sold: list[str] = []
    stop = threading.Event()

    def sell() -> None:
        while not stop.is_set():
            with store.transaction() as session:
                sale = _sale(session)
                documents.record_sale(session, sale)
            sold.append(sale.sale_id)

    cashier = threading.Thread(target=sell)
    cashier.start()
    try:
        while len(sold) < 20 and cashier.is_alive():
            threading.Event().wait(0.005)
        before = set(sold)
        backup_file = tmp_path / "usb-stick" / "till-backup.db"
        assert main_backup(["backup", str(backup_file), "--data-dir", str(data_dir)]) == 0
        after = set(sold)
        while len(sold) < len(after) + 5 and cashier.is_alive():
            threading.Event().wait(0.005)
    finally:
        stop.set()
        cashier.join(timeout=30)
    assert "integrity ok" in capsys.readouterr().out
    assert len(_sale_ids(store)) > len(after)  # the till kept selling past the snapshot
    store.close()

    for suffix in ("", "-wal", "-shm"):  # the disk dies
        Path(f"{paths.store_path(data_dir)}{suffix}").unlink(missing_ok=True)
    assert main_backup(["restore", str(backup_file), "--data-dir", str(data_dir)]) == 0

    reopened = LocalStore(paths.store_path(data_dir))
    try:
        restored = _sale_ids(reopened)
        assert before <= restored <= after
        with reopened.transaction() as session:
            # One snapshot: every sale came back with its line, payment, outbox event and
            # stock decrement, or not at all.
            lines = session.scalar(select(func.count()).select_from(SaleLineRow))
            events = set(session.scalars(select(OutboxEvent.document_id)))
            on_hand = session.get(StockLevel, 1).on_hand
            assert lines == len(restored)
            assert events == restored
            assert on_hand == OPENING_STOCK - QTY * len(restored)
            # The receipt series goes on where the backup left it: no number is reused.
            numbers = set(session.scalars(select(Sale.receipt_number)))
            following = _sale(session)
            documents.record_sale(session, following)
        with reopened.transaction() as session:
            new_number = session.get(Sale, following.sale_id).receipt_number
        assert new_number not in numbers
        assert new_number == f"AND-T01-{len(restored) + 1:06d}"
    finally:
        reopened.close()


def test_restore_refuses_a_broken_file_and_leaves_the_store_alone(tmp_path, capsys):
    data_dir = tmp_path / "till"
    _open_till(data_dir).close()
    store_file = paths.store_path(data_dir)
    digest = hashlib.sha256(store_file.read_bytes()).hexdigest()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    for bad in (broken, tmp_path / "missing.db"):
        assert main_backup(["restore", str(bad), "--data-dir", str(data_dir)]) == 1
        assert "stockpilot-till: " in capsys.readouterr().err
    assert hashlib.sha256(store_file.read_bytes()).hexdigest() == digest
    assert not list(data_dir.glob("*.before-restore-*"))


def test_restore_keeps_the_store_it_replaces(tmp_path):
    data_dir = tmp_path / "till"
    store = _open_till(data_dir)
    backup_file = tmp_path / "b.db"
    assert main_backup(["backup", str(backup_file), "--data-dir", str(data_dir)]) == 0
    with store.transaction() as session:
        documents.record_sale(session, _sale(session))
    store.close()
    assert main_backup(["restore", str(backup_file), "--data-dir", str(data_dir)]) == 0
    (kept,) = data_dir.glob("till.db.before-restore-*")
    assert sqlite3.connect(kept).execute("SELECT count(*) FROM sales").fetchone() == (1,)
    assert sqlite3.connect(paths.store_path(data_dir)).execute(
        "SELECT count(*) FROM sales"
    ).fetchone() == (0,)


def test_backup_refuses_a_missing_store_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / "out.db"
    assert main_backup(["backup", str(target), "--data-dir", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not target.exists() and not (tmp_path / "none").exists()


def test_the_data_folder_is_qts_app_data_location_unless_moved(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    from PySide6.QtCore import QStandardPaths

    expected = tmp_path / "xdg" / paths.ORG_NAME / paths.APP_NAME
    assert paths.default_data_dir() == expected
    assert (
        Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
        == expected
    )
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "moved"))
    assert paths.store_path() == tmp_path / "moved" / config.STORE_FILE


def test_the_store_file_name_is_the_one_the_till_opens(tmp_path):
    assert paths.STORE_FILENAME == config.STORE_FILE
    assert config.TillConfig(data_dir=tmp_path).store_path == paths.store_path(tmp_path)


def test_restore_replaces_a_damaged_store_and_keeps_it_aside(tmp_path):
    data_dir = tmp_path / "till"
    store = _open_till(data_dir)
    with store.transaction() as session:
        documents.record_sale(session, _sale(session))
    store.close()
    backup_file = tmp_path / "b.db"
    assert main_backup(["backup", str(backup_file), "--data-dir", str(data_dir)]) == 0
    store_file = paths.store_path(data_dir)
    store_file.write_bytes(b"\x00" * 4096 + b"disk trouble" * 300)  # the store is damaged
    stale_wal = Path(f"{store_file}-wal")
    stale_wal.write_bytes(b"old log that must never be replayed")

    assert main_backup(["restore", str(backup_file), "--data-dir", str(data_dir)]) == 0
    (kept,) = data_dir.glob("till.db.before-restore-*[0-9]Z")
    assert b"disk trouble" in kept.read_bytes()
    assert Path(f"{kept}-wal").read_bytes() == b"old log that must never be replayed"
    reopened = LocalStore(store_file)
    try:
        assert len(_sale_ids(reopened)) == 1
    finally:
        reopened.close()
