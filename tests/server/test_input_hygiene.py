"""Hostile input is a 4xx problem document on both engines, and changes nothing."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from common.hygiene import MAX_JSON_DEPTH

HUGE = "99999999999999999999999"  # beyond 64 bits
JUST_PAST = str(2**63)  # one past the largest signed 64-bit integer


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _count(api) -> int:
    return (
        api.get("products", params={"active": "false"}).json()["total"]
        + api.get("products").json()["total"]
    )


def _product(sku: str, **extra) -> dict:
    return {"sku": sku, "name": f"Item {sku}", "price": "10.00", **extra}


@pytest.mark.parametrize("big", [HUGE, JUST_PAST, "-" + HUGE])
def test_ids_beyond_64_bits_in_paths_are_422(api, big):
    for path in (
        f"products/{big}",
        f"customers/{big}",
        f"orders/{big}",
        f"purchase-orders/{big}",
        f"users/{big}",
    ):
        _problem(api.get(path), 422)
    _problem(api.patch(f"customers/{big}", json={"name": "x"}), 422)


@pytest.mark.parametrize("big", [HUGE, JUST_PAST])
def test_offsets_and_id_filters_beyond_64_bits_are_422(api, big):
    _problem(api.get("products", params={"offset": big}), 422)
    _problem(api.get("orders", params={"customer_id": big}), 422)
    _problem(api.get("products", params={"category_id": big}), 422)
    _problem(api.get("stock/valuation", params={"branch_id": big}), 422)
    # The largest offset there is answers an empty page, not an error.
    page = api.get("products", params={"offset": str(2**63 - 1)})
    assert page.status_code == 200 and page.json()["items"] == []


def test_ids_beyond_64_bits_in_bodies_are_422(api):
    before = _count(api)
    problem = _problem(api.post("products", json=_product("BIG1", category_id=int(HUGE))), 422)
    assert any(e["field"] == "category_id" for e in problem["errors"])
    assert _count(api) == before


@pytest.mark.parametrize(
    "name", ["a\x00b", "Tea\u202egnp.exe", "bell\x07", "line\x1bcolour", "iso\u2066late"]
)
def test_nul_control_and_bidi_characters_in_names_are_422(api, name):
    before = _count(api)
    problem = _problem(api.post("products", json=_product("BAD1", name=name)), 422)
    assert any(e["field"] == "name" for e in problem["errors"]), problem
    _problem(api.post("customers", json={"name": name}), 422)
    assert _count(api) == before


def test_text_with_ordinary_unicode_and_line_breaks_is_kept(api):
    body = _product("OK-1", name="Chai — मसाला café", description="line one\nline two\ttab")
    created = api.post("products", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Chai — मसाला café"


@pytest.mark.parametrize(
    "params",
    [
        {"q": "\x00"},
        {"q": "a\u202eb"},
        {"sku": "\x00"},
        {"status": "\x00"},
        {"q\x00": "x"},
    ],
)
def test_nul_and_bidi_in_search_and_filters_are_422_not_every_row(api, params):
    path = "orders" if "status" in params else "products"
    problem = _problem(api.get(path, params=params), 422)
    assert "must not contain" in problem["detail"]


def test_nul_in_a_path_is_422_but_a_gs1_scan_with_its_separator_is_looked_up(api):
    _problem(api.get("products/by-barcode/590%00123"), 422)
    _problem(api.get("products/by-barcode/590%E2%80%AE123"), 422)
    created = api.post("products", json=_product("GS1-1", barcodes=["5901234123457"]))
    assert created.status_code == 201, created.text
    # GTIN, then a variable-length lot ended by GS, then a best-before date.
    scan = "]C1" + "0105901234123457" + "10LOT7" + "\x1d" + "15261231"
    found = api.get("products/by-barcode/" + quote(scan, safe=""))
    assert found.status_code == 200, found.text
    assert found.json()["product"]["id"] == created.json()["id"]


@pytest.mark.parametrize("price", ["1e12", "10000000000", "99999999999", "-1", "9999999999.99999"])
def test_money_beyond_numeric_14_4_is_422_on_both_engines(api, price):
    before = _count(api)
    problem = _problem(api.post("products", json=_product("P1", price=price)), 422)
    assert any(e["field"] == "price" for e in problem["errors"]), problem
    assert _count(api) == before


def test_the_largest_storable_price_round_trips(api):
    created = api.post("products", json=_product("MAXP", price="9999999999.99"))
    assert created.status_code == 201, created.text
    again = api.get(f"products/{created.json()['id']}").json()
    assert again["price"] == "9999999999.99"


def test_prices_below_the_currency_minor_unit_are_422(api):
    problem = _problem(api.post("products", json=_product("MIN1", price="0.001")), 422)
    assert "minor units of INR" in problem["detail"]
    customer = api.post("customers", json={"name": "Paise", "credit_limit": "100"}).json()
    paid = api.post(f"customers/{customer['id']}/payments", json={"amount": "0.001"})
    assert "minor units of INR" in _problem(paid, 422)["detail"]
    # A unit cost may be finer than a paisa (bought by the kilo, sold by the gram).
    fine = api.post("products", json=_product("MIN2", cost="0.0015"))
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize(
    "field, value",
    [
        ("price", "1_000"),
        ("price", "١٢"),  # Arabic-Indic digits
        ("price", "１２"),  # full-width digits
        ("price", " 1 000"),
        ("price", True),
        ("price", 1.5),
        ("low_stock_threshold", 1.5),
        ("reorder_quantity", "2_0"),
        ("tax_rate", 5.5),
    ],
)
def test_lax_numbers_are_refused(api, field, value):
    before = _count(api)
    problem = _problem(api.post("products", json=_product("LAX1", **{field: value})), 422)
    assert any(e["field"] == field for e in problem["errors"]), problem
    assert _count(api) == before


def test_exact_numbers_are_still_accepted(api):
    body = _product("EXACT", price="1000.50", low_stock_threshold=5, reorder_quantity="2.5")
    created = api.post("products", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["low_stock_threshold"] == "5"


@pytest.mark.parametrize("value", [0, 1, "false", "no", "true"])
def test_booleans_must_be_json_booleans(api, value):
    product = api.post("products", json=_product("BOOL1")).json()
    problem = _problem(api.patch(f"products/{product['id']}", json={"active": value}), 422)
    assert any(e["field"] == "active" for e in problem["errors"])
    assert api.get(f"products/{product['id']}").json()["active"] is True
    assert api.patch(f"products/{product['id']}", json={"active": False}).status_code == 200


def _nested(depth: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


def test_deep_or_big_attributes_are_422_and_audit_stays_readable(api):
    before = _count(api)
    deep = _problem(api.post("products", json=_product("DEEP", attributes=_nested(254))), 422)
    assert any(e["field"].startswith("attributes") for e in deep["errors"])
    _problem(
        api.post("products", json=_product("DEEP2", attributes=_nested(MAX_JSON_DEPTH + 1))), 422
    )
    big = {"k": "x" * 20_000}
    _problem(api.post("products", json=_product("BIGA", attributes=big)), 422)
    _problem(api.post("products", json=_product("NULA", attributes={"a\x00": "b"})), 422)
    assert _count(api) == before
    ok = api.post("products", json=_product("DEEP3", attributes=_nested(MAX_JSON_DEPTH)))
    assert ok.status_code == 201, ok.text
    audit = api.get("audit", params={"limit": 100})
    assert audit.status_code == 200, audit.text


def test_orders_status_filter_must_be_a_known_status(api):
    problem = _problem(api.get("orders", params={"status": "bogus"}), 422)
    assert any(e["field"] == "status" for e in problem["errors"])
    assert api.get("orders", params={"status": "confirmed"}).status_code == 200


def test_chunked_body_over_the_limit_is_413(api):
    before = _count(api)

    def chunks():
        piece = b"x" * 65_536
        for _ in range(160):  # 10 MB, with no Content-Length
            yield piece

    response = api.post("products", content=chunks(), headers={"content-type": "application/json"})
    _problem(response, 413)
    assert _count(api) == before
    # A small chunked body is read whole and works.
    small = api.post(
        "products",
        content=iter([b'{"sku": "CH1", "name": "chunked", ', b'"price": "2.00"}']),
        headers={"content-type": "application/json"},
    )
    assert small.status_code == 201, small.text


def test_weak_and_listed_if_none_match_get_304(world):
    api = world.api("admin")
    first = api.get("catalog")
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    strong = etag.removeprefix("W/")
    for header in (etag, f"W/{strong}", f'"nope", {etag}', f'"nope",W/{strong}', "*"):
        again = api.get("catalog", headers={"If-None-Match": header})
        assert again.status_code == 304, (header, again.status_code)
        assert again.headers["etag"] == etag
    assert api.get("catalog", headers={"If-None-Match": '"nope"'}).status_code == 200


FORMULA = '=HYPERLINK("http://evil.example/","Click")'


def test_formula_in_a_customer_name_is_inert_in_credit_ageing_csv_and_xlsx(world):
    cashier = world.api("cashier")
    created = cashier.post("customers", json={"name": FORMULA})
    assert created.status_code == 201, created.text
    for other in ("+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"):
        assert cashier.post("customers", json={"name": other}).status_code == 201
    admin = world.api("admin")
    ids = [c["id"] for c in admin.get("customers", params={"limit": 100}).json()["items"]]
    for customer_id in ids:
        charged = admin.post(
            f"customers/{customer_id}/credit-adjustments",
            json={"amount": "25.00", "note": "opening balance"},
        )
        assert charged.status_code == 201, charged.text
    viewer = world.api("viewer")
    as_csv = viewer.get("reports/customer-credit-ageing", params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    names = {row[0] for row in rows[1:]} | {row[1] for row in rows[1:]}
    assert "'" + FORMULA in names
    for cell in (c for row in rows for c in row):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        if cell.startswith("-"):
            float(cell)  # only our own negative numbers may start with a minus
    as_xlsx = viewer.get("reports/customer-credit-ageing", params={"format": "xlsx"})
    assert as_xlsx.status_code == 200
    book = load_workbook(io.BytesIO(as_xlsx.content))
    cells = [c for row in book.active.iter_rows() for c in row]
    by_value = {c.value: c for c in cells if isinstance(c.value, str)}
    assert FORMULA in by_value, sorted(by_value)
    assert all(c.data_type != "f" for c in cells)
    assert by_value[FORMULA].data_type == "s"
    raw = _sheet_xml(as_xlsx.content)
    assert "<f>" not in raw and "HYPERLINK" in raw


def _sheet_xml(content: bytes) -> str:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(
            archive.read(name).decode()
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
        )


def test_formula_in_a_product_name_is_inert_in_stock_shortages(shop):
    admin = shop.api("admin")
    product = admin.post(
        "products",
        json=_product("EVIL-1", name=FORMULA, low_stock_threshold="5", reorder_quantity="10"),
    )
    assert product.status_code == 201, product.text
    stocked = admin.post(
        "stock/adjustments",
        json={
            "branch_id": shop.branch_ids[0],
            "product_id": product.json()["id"],
            "quantity": "1",
            "reason": "found",
        },
    )
    assert stocked.status_code == 201, stocked.text
    as_csv = admin.get("reports/stock-shortages", params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    flat = [c for row in rows for c in row]
    assert "'" + FORMULA in flat, rows[:3]
    as_xlsx = admin.get("reports/stock-shortages", params={"format": "xlsx"})
    raw = _sheet_xml(as_xlsx.content)
    assert "<f>" not in raw and "HYPERLINK" in raw


def test_only_a_locked_or_busy_database_is_a_retryable_503(tmp_path):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from sync_server.errors import is_transient

    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.OperationalError) as missing:
            other.execute("SELECT * FROM no_such_table")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        other.close()
    assert is_transient(OperationalError("INSERT", {}, locked.value))
    # A statement that can never succeed must not tell clients to retry forever.
    assert not is_transient(OperationalError("SELECT", {}, missing.value))


def test_every_formula_start_is_escaped_in_csv_and_text_in_xlsx():
    from datetime import UTC, datetime
    from decimal import Decimal

    from sync_server.reports.base import Column, Kind, Report
    from sync_server.reports.exports import csv_chunks, xlsx_bytes

    hostile = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]
    report = Report(
        name="hostile",
        title="Hostile text",
        columns=[Column("name", "Name"), Column("owed", "Owed", Kind.MONEY)],
        rows=[{"name": text, "owed": Decimal("-12.50")} for text in hostile],
        filters={"q": "=cmd|' /C calc'!A0"},
        generated_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    rows = list(csv.reader(io.StringIO("".join(csv_chunks(report)))))
    names = [row[0] for row in rows[1:]]
    assert names == ["'=1+1", "'+1", "'-1+2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b"]
    # Our own negative numbers stay numbers.
    assert {row[1] for row in rows[1:]} == {"-12.50"}
    book = load_workbook(io.BytesIO(xlsx_bytes(report)))
    sheet, about = book["hostile"], book["About"]
    # Kept as typed (XML reads a lone CR back as LF), never as a formula.
    assert [c.value for c in sheet["A"][1:]][:5] == hostile[:5]
    assert all(c.data_type == "s" for c in sheet["A"][1:])
    assert all(c.data_type == "n" for c in sheet["B"][1:])
    assert all(c.data_type != "f" for row in about.iter_rows() for c in row)


def test_values_the_database_refuses_are_422_not_500_or_503(app, engine, client):
    """Whatever slips past the schemas: the real driver's refusal becomes a 422."""
    from sqlalchemy import text

    def too_big() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT :n"), {"n": 2**64})  # beyond 64 bits on both engines
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT CAST(:n AS BIGINT)"), {"n": str(2**64)})

    def nul_text() -> None:
        with engine.connect() as conn:
            # PostgreSQL's text cannot hold NUL (SQLite can: there the schemas refuse it).
            conn.execute(text("SELECT :s"), {"s": "a\x00b"})

    # Routes added only for this test: the handlers under test are the app's own.
    app.add_api_route("/api/v1/test-only/too-big", too_big)
    app.add_api_route("/api/v1/test-only/nul", nul_text)
    answer = client.get("/api/v1/test-only/too-big")
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/validation-error")
    if engine.dialect.name == "postgresql":
        assert client.get("/api/v1/test-only/nul").status_code == 422
