"""Units and packs: a case's barcode sells 12 pieces; a PO in cases is received in pieces."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from common.barcodes import make_ean13
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.inventory.models import StockMovement

CASE = make_ean13("590000000012")
UNIT = make_ean13("590000000001")


def _product(api, *, sku: str = "TEA-1", **extra) -> dict:
    body = {"sku": sku, "name": "Tea 100g", "price": "10.00", "barcodes": [UNIT], **extra}
    response = api.post("products", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _on_hand(world, product_id: int) -> Decimal:
    with transaction(world.sessions(), readonly=True) as session:
        return ledger.level(
            session, tenant_id=world.a.id, branch_id=world.a.branch_ids[0], product_id=product_id
        ).on_hand


def test_a_case_barcode_names_twelve_pieces_at_the_case_price(world):
    api = world.api("admin")
    product = _product(
        api, packs=[{"code": CASE, "label": "case", "quantity": "12", "price": "100.00"}]
    )
    assert product["packs"] == [
        {"code": CASE, "label": "case", "quantity": "12", "price": "100.0000"}
    ] or [Decimal(product["packs"][0]["price"])] == [Decimal("100")]
    found = api.get(f"products/by-barcode/{CASE}").json()
    assert found["product"]["id"] == product["id"]
    assert Decimal(found["quantity"]) == 12
    assert found["pack"]["label"] == "case" and Decimal(found["pack"]["price"]) == 100
    # The unit barcode is still one piece, not a pack.
    single = api.get(f"products/by-barcode/{UNIT}").json()
    assert single["pack"] is None and single.get("quantity") is None

    # A pack without its own price sells at quantity x the unit price.
    six = make_ean13("590000000006")
    patched = api.patch(
        f"products/{product['id']}",
        json={"packs": [{"code": CASE, "label": "case", "quantity": "12", "price": "100"},
                        {"code": six, "label": "six-pack", "quantity": "6"}]},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    prices = {p["label"]: Decimal(p["price"]) for p in patched.json()["packs"]}
    assert prices == {"case": Decimal("100"), "six-pack": Decimal("60")}


def test_pack_codes_that_clash_or_make_no_sense_are_refused(world):
    api = world.api("admin")
    product = _product(api, packs=[{"code": CASE, "quantity": "12"}])
    taken = world.api("admin").get(f"products/{world.a.product_ids[0]}").json()["barcodes"][0]

    clash = api.post(
        "products",
        json={"sku": "X-1", "name": "X", "price": "1", "packs": [{"code": taken, "quantity": "6"}]},
    )
    assert clash.status_code == 409 and taken in clash.json()["detail"]
    # A product's barcode may not be another product's pack code either.
    clash = api.post("products", json={"sku": "X-2", "name": "X", "price": "1", "barcodes": [CASE]})
    assert clash.status_code == 409
    own = api.patch(f"products/{product['id']}", json={"packs": [{"code": UNIT, "quantity": "12"}]})
    assert own.status_code == 422 and "both" in own.json()["detail"]
    one = api.patch(f"products/{product['id']}", json={"packs": [{"code": CASE, "quantity": "1"}]})
    assert one.status_code == 422 and "more than one" in one.json()["detail"]
    half = api.patch(
        f"products/{product['id']}", json={"packs": [{"code": CASE, "quantity": "2.5"}]}
    )
    assert half.status_code == 422
    bad = api.patch(
        f"products/{product['id']}", json={"packs": [{"code": "5901234123458", "quantity": "6"}]}
    )
    assert bad.status_code == 422
    # Nothing half-written: the product still has its one case.
    assert [p["code"] for p in api.get(f"products/{product['id']}").json()["packs"]] == [CASE]


def test_a_po_in_cases_is_received_in_pieces_at_the_cost_per_piece(world):
    admin = world.api("admin")
    product = _product(admin, purchase_unit="case", purchase_units_per="12")
    assert product["purchase_unit"] == "case" and Decimal(product["purchase_units_per"]) == 12
    supplier = world.api("purchase_admin").post("suppliers", json={"name": "Tea Co"}).json()
    buyer = world.api("purchase_admin")
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": world.a.branch_ids[0],
            "lines": [{"product_id": product["id"], "quantity": "5", "unit_cost": "120.00"}],
        },
    )
    assert po.status_code == 201, po.text
    po = po.json()
    [line] = po["lines"]
    assert line["purchase_unit"] == "case" and Decimal(line["units_per"]) == 12
    assert Decimal(po["total"]) == Decimal("600")
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    incoming = buyer.get("stock/incoming").json()
    [due] = [x for x in incoming if x["product_id"] == product["id"]]
    assert Decimal(due["on_order"]) == 60  # pieces, not cases

    # Not a whole number of pieces: refused, nothing received.
    odd = buyer.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line["id"], "quantity": "0.05"}]},
    )
    assert odd.status_code == 422 and "base units" in odd.json()["detail"]
    assert _on_hand(world, product["id"]) == 0

    # Counted at the dock in pieces: 60 pieces are the 5 cases ordered.
    receipt = buyer.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line["id"], "quantity": "60", "unit": "base"}]},
    )
    assert receipt.status_code == 201, receipt.text
    assert Decimal(receipt.json()["value"]) == Decimal("600")
    assert _on_hand(world, product["id"]) == 60
    after = buyer.get(f"purchase-orders/{po['id']}").json()
    assert after["status"] == "received"
    assert Decimal(after["lines"][0]["received_quantity"]) == 5
    with transaction(world.sessions(), readonly=True) as session:
        movement = session.scalars(
            select(StockMovement).where(StockMovement.product_id == product["id"])
        ).one()
        assert movement.quantity == 60 and movement.unit_cost == Decimal("10")
    assert Decimal(admin.get(f"products/{product['id']}").json()["cost"]) == Decimal("10")

    # Over-receiving is judged in cases too: one more piece is more than was ordered.
    more = buyer.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line["id"], "quantity": "12", "unit": "base"}]},
    )
    assert more.status_code in (409, 422)
    assert _on_hand(world, product["id"]) == 60


def test_a_po_line_may_name_its_own_unit_and_receive_in_it(world):
    admin = world.api("admin")
    product = _product(admin)
    supplier = world.api("purchase_admin").post("suppliers", json={"name": "Tea Co"}).json()
    buyer = world.api("purchase_admin")
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": world.a.branch_ids[0],
            "lines": [
                {
                    "product_id": product["id"],
                    "quantity": "2",
                    "unit_cost": "100.00",
                    "purchase_unit": "box",
                    "units_per": "24",
                }
            ],
        },
    ).json()
    buyer.post(f"purchase-orders/{po['id']}/submit")
    world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    [line] = po["lines"]
    got = buyer.post(
        f"purchase-orders/{po['id']}/receipts",
        json={
            "lines": [
                {"line_id": line["id"], "quantity": "1", "lot_number": "B7",
                 "expiry": "2031-01-31"}
            ]
        },
    )  # fmt: skip
    assert got.status_code == 201, got.text
    assert _on_hand(world, product["id"]) == 24
    # The box's 24 pieces went into its lot.
    [lot] = admin.get("stock/lots", params={"product_id": product["id"]}).json()
    assert (lot["lot_number"], lot["expiry"], Decimal(lot["on_hand"])) == ("B7", "2031-01-31", 24)
    assert Decimal(admin.get(f"products/{product['id']}").json()["cost"]) == Decimal("4.1667")


def test_an_existing_database_migrates_with_every_product_in_its_unit_and_no_lots(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from sync_server.migrations.runner import alembic_config, upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0016_audit_keys")
        connection.execute(
            text(
                "INSERT INTO tenants (id, name, currency, created_at) "
                "VALUES (7, 'Old Shop', 'INR', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO products (id, tenant_id, sku, name, description, price, cost, "
                "tax_rate, unit, low_stock_threshold, reorder_quantity, attributes, active, "
                "created_at, updated_at) VALUES (1, 7, 'RICE', 'Rice', '', 60, 40, 0, 'kg', "
                "0, 0, '{}', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT unit, purchase_unit, purchase_units_per FROM products WHERE id = 1")
        ).one()
        packs = connection.execute(text("SELECT count(*) FROM product_packs")).scalar()
        lots = connection.execute(text("SELECT count(*) FROM stock_lots")).scalar()
    assert (row[0], row[1], Decimal(str(row[2]))) == ("kg", None, Decimal("1"))
    assert packs == 0 and lots == 0  # no packs, no lots: all stock untracked, as before
    engine.dispose()
