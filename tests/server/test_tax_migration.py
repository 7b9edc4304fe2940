"""An existing database migrates: each product keeps its rate as a single-component class."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from alembic import command
from sqlalchemy import create_engine, text

from common.tax import Supply
from sync_server.migrations.runner import alembic_config, upgrade
from sync_server.tax.service import class_from_json


def test_products_keep_their_rate_as_a_single_component_class(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0016_audit_keys")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (id, name, currency, created_at) "
                "VALUES (1, 'Old Shop', 'INR', '2026-01-01 00:00:00'),"
                " (2, 'Other Shop', 'INR', '2026-01-01 00:00:00')"
            )
        )
        for pid, tenant, rate in ((1, 1, "5"), (2, 1, "18"), (3, 1, "5"), (4, 2, "5")):
            connection.execute(
                text(
                    "INSERT INTO products (id, tenant_id, sku, name, description, price, cost,"
                    " tax_rate, unit, low_stock_threshold, reorder_quantity, attributes, active,"
                    " created_at, updated_at) VALUES (:id, :t, :sku, 'P', '', 10, 0, :rate,"
                    " 'piece', 0, 0, '{}', 1, '2026-01-01', '2026-01-01')"
                ),
                {"id": pid, "t": tenant, "sku": f"SKU-{pid}", "rate": rate},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT p.id, p.tenant_id, p.tax_rate, c.tenant_id, c.code, c.name, c.rates "
                "FROM products p JOIN tax_classes c ON c.id = p.tax_class_id ORDER BY p.id"
            )
        ).all()
        classes = connection.execute(text("SELECT count(*) FROM tax_classes")).scalar()
    assert len(rows) == 4 and classes == 3  # one per rate per business
    for _, tenant, rate, class_tenant, code, name, rates in rows:
        assert class_tenant == tenant
        tax_class = class_from_json(code=code, name=name, rates=json.loads(rates))
        for supply in Supply:
            (component,) = tax_class.components_on(day=date(2026, 12, 4), supply=supply)
            assert component.rate == Decimal(str(rate))
    assert [r[4] for r in rows] == ["TAX5", "TAX18", "TAX5", "TAX5"]
