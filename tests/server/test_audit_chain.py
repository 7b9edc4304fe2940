"""The audit chain: stock actions are recorded, and `audit verify` catches a tampered row."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select, update

from common.codes import MovementCode
from sync_server.audit.models import AuditEntry
from sync_server.cli import main as cli
from sync_server.inventory import ledger


def _movements(stock, count: int) -> None:
    with stock.tx() as session:
        for i in range(count):
            ledger.record_movement(
                session,
                actor=stock.actor,
                branch_id=stock.branch_ids[0],
                product_id=stock.product_ids[0],
                code=MovementCode.RECEIPT,
                quantity=Decimal(i + 1),
                reference_type="test",
                reference_id=str(i),
            )


def _verify(monkeypatch, capsys, database_url, tmp_path) -> tuple[int, str]:
    monkeypatch.setenv("STOCKPILOT_DATABASE_URL", database_url)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path / "cli"))
    code = cli(["audit", "verify"])
    return code, capsys.readouterr().out


def test_verify_passes_an_intact_chain_and_names_the_edited_entry(
    stock, engine, database_url, monkeypatch, capsys, tmp_path
):
    _movements(stock, 4)
    code, out = _verify(monkeypatch, capsys, database_url, tmp_path)
    assert code == 0, out
    assert "Stock Shop: chain intact" in out

    with engine.begin() as conn:
        entries = conn.execute(
            select(AuditEntry.seq, AuditEntry.after)
            .where(AuditEntry.tenant_id == stock.tenant_id, AuditEntry.action == "stock.receipt")
            .order_by(AuditEntry.seq)
        ).all()
        assert len(entries) == 4
        seq, after = entries[1]
        # Someone quietly turns a receipt of 2 into a receipt of 20.
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq == seq)
            .values(after={**after, "quantity": "20"})
        )
    code, out = _verify(monkeypatch, capsys, database_url, tmp_path)
    assert code == 1
    assert f"Stock Shop: BROKEN: entry {seq} was edited" in out


def test_verify_catches_a_deleted_entry(stock, engine, database_url, monkeypatch, capsys, tmp_path):
    _movements(stock, 3)
    # Verify seals the entries (on PostgreSQL they are chained after commit).
    assert _verify(monkeypatch, capsys, database_url, tmp_path)[0] == 0
    with engine.begin() as conn:
        last = conn.scalar(
            select(AuditEntry.seq)
            .where(AuditEntry.tenant_id == stock.tenant_id)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
        conn.execute(
            delete(AuditEntry).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq == last - 1
            )
        )
    code, out = _verify(monkeypatch, capsys, database_url, tmp_path)
    assert code == 1
    assert f"BROKEN: entry {last - 1} was removed" in out
