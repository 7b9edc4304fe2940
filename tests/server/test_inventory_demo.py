"""Demo opening stock: realistic receipts, a few products low or out so alerts show."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from sync_server.alerts.models import Alert
from sync_server.catalog.models import Product
from sync_server.demo import demo_opening_stock
from sync_server.inventory.models import StockLevel
from sync_server.org.models import Branch


def test_demo_opening_stock_leaves_alerts_to_show_and_runs_once(stock):
    with stock.tx() as session:
        for product in session.scalars(select(Product).where(Product.tenant_id == stock.tenant_id)):
            product.low_stock_threshold = Decimal("10")
    for expected in (6, 0):
        with stock.tx() as session:
            branches = session.scalars(
                select(Branch).where(Branch.tenant_id == stock.tenant_id).order_by(Branch.id)
            ).all()
            products = session.scalars(
                select(Product).where(Product.tenant_id == stock.tenant_id).order_by(Product.id)
            ).all()
            received = demo_opening_stock(
                session, actor=stock.actor, branches=branches, products=products
            )
        assert received == expected
    with stock.factory() as session:
        alerts = session.execute(
            select(Alert.kind, Alert.branch_id, Alert.product_id).where(Alert.status == "open")
        ).all()
        west = session.scalars(
            select(StockLevel.on_hand).where(StockLevel.branch_id == stock.branch_ids[1])
        ).all()
        costs = session.scalars(select(Product.cost).where(Product.tenant_id == stock.tenant_id))
        assert all(cost > 0 for cost in costs)
    main = stock.branch_ids[0]
    p0, p1, p2 = stock.product_ids
    assert sorted(alerts) == sorted(
        [("out_of_stock", main, p0), ("low_stock", main, p1), ("low_stock", main, p2)]
    )
    assert all(on_hand >= 30 for on_hand in west)
