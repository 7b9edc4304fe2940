"""Stock alerts open once, clear themselves on restock, and are acknowledged via the API."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from common.codes import MovementCode
from sync_server.alerts import service as alerts
from sync_server.alerts.models import Alert
from sync_server.foundation.models import Change
from sync_server.inventory import ledger, reservations, thresholds


def _move(stock, code, qty, *, allow_negative=False, product=0):
    with stock.tx() as session:
        ledger.record_movement(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=stock.product_ids[product],
            code=code,
            quantity=Decimal(qty),
            reference_type="test",
            reference_id="a",
            allow_negative=allow_negative,
        )


def _alerts(stock):
    with stock.factory() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id)).all()
        return [(a.kind, a.status) for a in rows]


def test_stock_alerts_follow_the_level_without_duplicates(stock):
    with stock.tx() as session:
        thresholds.set_thresholds(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=stock.product_ids[0],
            low_stock_threshold=Decimal("10"),
            reorder_quantity=Decimal("40"),
        )
    _move(stock, MovementCode.RECEIPT, "12")
    assert _alerts(stock) == []
    _move(stock, MovementCode.SALE, "-3")  # 9 < 10: low
    _move(stock, MovementCode.SALE, "-4")  # still low: the same alert, not a second one
    assert _alerts(stock) == [("low_stock", "open")]
    _move(stock, MovementCode.SALE, "-5")  # 0: out of stock replaces low
    assert _alerts(stock) == [("low_stock", "cleared"), ("out_of_stock", "open")]
    _move(stock, MovementCode.SALE, "-1", allow_negative=True)
    assert _alerts(stock)[-1] == ("negative_stock", "open")
    assert ("out_of_stock", "cleared") in _alerts(stock)
    _move(stock, MovementCode.RECEIPT, "30")  # restocked above the threshold: all clear
    assert {status for _, status in _alerts(stock)} == {"cleared"}
    with stock.factory() as session:
        published = session.scalars(
            select(Change).where(Change.entity == "alert").order_by(Change.id)
        ).all()
        assert all(c.branch_id == stock.branch_ids[0] for c in published)
        assert [c.data["status"] for c in published][-1] == "cleared"
        low = session.scalar(select(Alert).where(Alert.kind == "low_stock"))
        assert low.details["threshold"] == "10" and low.details["available"] == "5"
        assert low.cleared_at is not None


def test_reservations_count_against_the_threshold(stock):
    _move(stock, MovementCode.RECEIPT, "5")
    with stock.tx() as session:
        reservations.reserve(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            lines=[(stock.product_ids[0], Decimal("5"))],
            reference_type="order",
            reference_id="o-9",
        )
    # On hand is 5 but none of it is available: the shelf is, for selling, empty.
    assert _alerts(stock) == [("out_of_stock", "open")]


def test_other_domains_raise_and_clear_their_own_kinds(stock):
    with stock.tx() as session:
        first = alerts.raise_alert(
            session,
            tenant_id=stock.tenant_id,
            kind="sync_dead_letter",
            branch_id=stock.branch_ids[1],
            details={"message": "event rejected"},
        )
        again = alerts.raise_alert(
            session,
            tenant_id=stock.tenant_id,
            kind="sync_dead_letter",
            branch_id=stock.branch_ids[1],
            details={"message": "two events rejected"},
        )
        assert again.id == first.id and again.details["message"] == "two events rejected"
        alerts.raise_alert(
            session, tenant_id=stock.tenant_id, kind="credit_over_limit", details={"customer": 3}
        )
    with stock.tx() as session:
        cleared = alerts.clear_alert(
            session,
            tenant_id=stock.tenant_id,
            kind="sync_dead_letter",
            branch_id=stock.branch_ids[1],
        )
        assert cleared is not None
    assert _alerts(stock) == [("sync_dead_letter", "cleared"), ("credit_over_limit", "open")]


def test_alerts_api_lists_filters_and_acknowledges(shop):
    main, west = shop.branch_ids
    _move(shop, MovementCode.SALE, "-2", allow_negative=True)
    with shop.tx() as session:
        alerts.raise_alert(
            session,
            tenant_id=shop.tenant_id,
            kind="sync_dead_letter",
            branch_id=west,
            details={"message": "x"},
        )
    admin = shop.api()
    assert admin.get("alerts").json()["total"] == 2
    negative = admin.get("alerts", params={"kind": "negative_stock"}).json()["items"]
    assert len(negative) == 1 and negative[0]["branch_id"] == main
    manager = shop.api("manager", branches=[main])
    assert [a["kind"] for a in manager.get("alerts").json()["items"]] == ["negative_stock"]
    assert manager.get("alerts", params={"branch_id": west}).status_code == 403

    aid = negative[0]["id"]
    assert shop.api("viewer", branches=[main]).post(f"alerts/{aid}/acknowledge").status_code == 403
    acked = manager.post(f"alerts/{aid}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"]
    assert manager.post(f"alerts/{aid}/acknowledge").status_code == 409
    active = admin.get("alerts", params={"status": "active"}).json()["items"]
    assert {a["status"] for a in active} == {"acknowledged", "open"}
    # An acknowledged alert still clears by itself once the stock is back.
    _move(shop, MovementCode.RECEIPT, "10")
    assert (
        admin.get("alerts", params={"kind": "negative_stock"}).json()["items"][0]["status"]
        == "cleared"
    )
    stranger = shop.api("admin", tenant_id=shop.other_tenant_id)
    assert stranger.post(f"alerts/{aid}/acknowledge").status_code == 404
