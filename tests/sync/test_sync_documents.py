"""Every kind of till event lands on the server with its stock, credit and audit effects."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from common.ids import new_id
from common.sync.protocol import (
    CashMovement,
    CountLine,
    PaymentOnAccount,
    Refund,
    ReturnLine,
    ReturnRecorded,
    SaleVoided,
    ShiftClosed,
    ShiftOpened,
    StockCountEntered,
)
from sync_server.audit.service import verify
from sync_server.cli import main
from sync_server.db import make_engine, make_sessionmaker, transaction
from sync_server.inventory import ledger
from sync_server.org import service as org
from sync_server.partners.models import Customer
from sync_server.sales.models import CashMovement as ServerCash
from sync_server.sales.models import Return, Sale, Shift
from sync_server.sync import devices
from tests.sync.sync_helpers import sale_payload


def test_a_day_of_till_events_lands_with_its_effects(world, enrol, stock_in, wrap):
    body, till = enrol()
    device, branch = body["device_id"], world.a.branch_ids[0]
    soap, rice = world.a.product_ids[0], world.a.product_ids[1]
    stock_in(product_id=soap, branch_id=branch, quantity="10")
    stock_in(product_id=rice, branch_id=branch, quantity="10")
    created = world.api("admin").post(
        "customers", json={"name": "Ravi", "phone": "555", "credit_limit": "1000"}
    )
    customer_id = created.json()["id"]

    shift_id = new_id()
    cash_sale = sale_payload(
        branch_id=branch, product_id=soap, receipt="AND-T01-000001", quantity="3"
    )
    account_sale = sale_payload(
        branch_id=branch,
        product_id=rice,
        receipt="AND-T01-000002",
        quantity="2",
        price="100.00",
        method="account",
        customer_id=customer_id,
    )
    voided = sale_payload(branch_id=branch, product_id=soap, receipt="AND-T01-000003")
    payloads = [
        ShiftOpened(shift_id=shift_id, branch_id=branch, opening_float=Decimal("500")),
        cash_sale.model_copy(update={"shift_id": shift_id}),
        account_sale,
        voided,
        SaleVoided(sale_id=voided.sale_id, reason="wrong item"),
        PaymentOnAccount(
            payment_id=new_id(), customer_id=customer_id, branch_id=branch, amount=Decimal("50")
        ),
        CashMovement(
            movement_id=new_id(),
            branch_id=branch,
            shift_id=shift_id,
            direction="out",
            amount=Decimal("20"),
            reason="tea",
        ),
        ReturnRecorded(
            return_id=new_id(),
            original_sale_id=cash_sale.sale_id,
            receipt_number="AND-T01-000004",
            branch_id=branch,
            shift_id=shift_id,
            lines=[
                ReturnLine(
                    line_id=new_id(), product_id=soap, quantity=Decimal(1), amount=Decimal(10)
                )
            ],
            refunds=[Refund(refund_id=new_id(), method="cash", amount=Decimal(10))],
            total=Decimal(10),
        ),
        StockCountEntered(
            count_id=new_id(),
            branch_id=branch,
            lines=[CountLine(product_id=rice, counted=Decimal("7"))],
        ),
        ShiftClosed(
            shift_id=shift_id,
            branch_id=branch,
            counted_cash=Decimal("495"),
            expected_cash=Decimal("500"),
            variance=Decimal("-5"),
        ),
    ]
    events = [wrap(p, device_id=device) for p in payloads]
    results = till.post("sync/push", json={"events": events}).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * len(events), results

    with transaction(world.sessions(), readonly=True) as session:

        def on_hand(product_id: int) -> Decimal:
            return ledger.level(
                session, tenant_id=world.a.id, branch_id=branch, product_id=product_id
            ).on_hand

        # soap: 10 - 3 sold - 1 voided sale + 1 back from the void + 1 returned = 8
        assert on_hand(soap) == Decimal("8")
        # rice: 10 - 2 sold = 8, then counted 7 on the till
        assert on_hand(rice) == Decimal("7")
        assert session.get(Customer, customer_id).balance == Decimal("150.00")
        assert session.scalars(select(Sale).where(Sale.uuid == voided.sale_id)).one().status == (
            "voided"
        )
        shift = session.scalars(select(Shift).where(Shift.uuid == shift_id)).one()
        assert shift.opening_float == Decimal("500") and shift.variance == Decimal("-5")
        assert session.scalars(select(ServerCash)).one().amount == Decimal("20")
        assert session.scalars(select(Return)).one().original_sale_uuid == cash_sale.sale_id
        assert verify(session, tenant_id=world.a.id).ok

    again = till.post("sync/push", json={"events": events}).json()["results"]
    assert {r["status"] for r in again} == {"duplicate"}


def test_cli_prints_an_enrolment_code_that_enrols_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STOCKPILOT_DATABASE_URL", raising=False)
    assert main(["init", "--admin-password", "a-long-admin-password"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'stockpilot.db'}")
    factory = make_sessionmaker(engine)
    from common.schemas.org import BranchCreate
    from sync_server.org.models import Tenant

    with transaction(factory) as session:
        tenant_id = session.scalars(select(Tenant.id)).one()
        org.create_branch(
            session, actor=None, tenant_id=tenant_id, data=BranchCreate(name="Andheri", code="AND")
        )
    capsys.readouterr()
    assert main(["device", "enrol-code", "--branch", "AND"]) == 0
    code = re.search(r"code for branch AND: (\S+)", capsys.readouterr().out).group(1)
    assert main(["device", "enrol-code", "--branch", "NOPE"]) == 2
    with transaction(factory) as session:
        device, token, branch = devices.enrol(session, code=code, name="Till 1")
        assert branch.code == "AND" and token.startswith("spd_")
        assert device.receipt_prefix == "AND-T01"
    engine.dispose()


def test_lines_of_one_product_make_one_movement(world, enrol, stock_in, wrap):
    from sync_server.inventory.models import StockMovement

    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    stock_in(product_id=product, branch_id=branch, quantity="5")
    sale = sale_payload(branch_id=branch, product_id=product, receipt="R-1", quantity="2")
    sale = sale.model_copy(
        update={"lines": [sale.lines[0], sale.lines[0].model_copy(update={"line_id": new_id()})]}
    )
    result = till.post("sync/push", json={"events": [wrap(sale, device_id=body["device_id"])]})
    assert result.json()["results"][0]["status"] == "applied"
    with transaction(world.sessions(), readonly=True) as session:
        moves = session.scalars(
            select(StockMovement).where(StockMovement.reference_id == sale.sale_id)
        ).all()
        assert [m.quantity for m in moves] == [Decimal("-4")]
        assert len(session.scalars(select(Sale)).one().lines) == 2
