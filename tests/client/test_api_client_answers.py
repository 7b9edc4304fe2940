"""ApiClient reads typed answers from the real server, and turns an answer of the wrong shape
(another program at the address, another version) into one ApiError a manager can act on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from common.schemas.partners import CustomerCreate, SupplierCreate
from common.schemas.purchasing import PORead
from pos_client.api.client import ApiClient, ApiError, UnexpectedAnswer
from tests.factories import PASSWORD, World


@pytest.fixture
def signed_in(world: World, live_server) -> Iterator[ApiClient]:
    """An ApiClient signed in as the first tenant's admin over real HTTP."""
    client = ApiClient(live_server.url)
    client.login(username="admin", password=PASSWORD)
    yield client
    client.close()


def test_credit_history_is_a_page_of_the_customers_entries(signed_in: ApiClient) -> None:
    customer = signed_in.create_customer(
        CustomerCreate(name="Credit Customer", phone="5550100", credit_limit=Decimal("500"))
    )
    signed_in.record_payment(customer.id, amount=Decimal("12.50"), reference="r-1")

    history = signed_in.credit_history(customer.id)

    assert history.total == 1
    assert [(entry.kind, entry.amount) for entry in history.items] == [
        ("payment", Decimal("-12.50"))
    ]
    assert signed_in.customer_account(customer.id).amount_paid == Decimal("12.50")


def test_starting_costs_are_keyed_by_product(signed_in: ApiClient, world: World) -> None:
    supplier = signed_in.create_supplier(SupplierCreate(name="Acme Wholesale"))
    wanted = world.a.product_ids[:2]

    costs = signed_in.starting_costs(supplier.id, wanted)

    assert sorted(costs) == sorted(wanted)
    assert all(costs[pid]["product_id"] == pid for pid in wanted)


def test_a_purchase_order_is_read_as_its_schema(signed_in: ApiClient, world: World) -> None:
    supplier = signed_in.create_supplier(SupplierCreate(name="Typed Supplier"))
    line = {"product_id": world.a.product_ids[0], "quantity": "4", "unit_cost": "2.50"}
    created = signed_in.create_purchase_order(
        supplier_id=supplier.id, branch_id=world.a.branch_ids[0], lines=[line]
    )

    submitted = signed_in.po_action(created.id, "submit")
    read = signed_in.purchase_order(created.id)

    assert isinstance(read, PORead) and submitted.status == read.status == "pending_approval"
    assert [(x.quantity, x.unit_cost) for x in read.lines] == [(Decimal(4), Decimal("2.50"))]
    assert read.subtotal == Decimal("10.00")
    assert [po.id for po in signed_in.purchase_orders(status="pending_approval").items] == [
        created.id
    ]
    assert signed_in.purchase_order_receipts(created.id) == []
    assert signed_in.purchase_order_emails(created.id).emails == []
    account = signed_in.supplier_account(supplier.id)
    assert (account.name, account.open_purchase_orders) == ("Typed Supplier", 1)
    assert (
        signed_in.reorder_suggestions(branch_id=world.a.branch_ids[0]).branch_id
        == (world.a.branch_ids[0])
    )


def test_typed_reads_of_a_real_server(signed_in: ApiClient, world: World) -> None:
    assert signed_in.health().status == "ok"
    report = signed_in.verify_audit()
    assert report.ok and report.reason == ""
    code = signed_in.enrolment_code(branch_id=world.a.branch_ids[0])
    assert code.branch_id == world.a.branch_ids[0] and code.code
    assert signed_in.devices().total == 0
    assert signed_in.api_keys().items == []


def test_stock_reads_are_typed(signed_in: ApiClient, world: World) -> None:
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    moved = signed_in.receive_stock(
        branch_id=branch_id,
        lines=[{"product_id": product_id, "quantity": Decimal("4"), "unit_cost": Decimal("2.50")}],
        reference="inv-1",
    )
    assert [(m.code, m.quantity, m.unit_cost) for m in moved] == [
        ("receipt", Decimal("4"), Decimal("2.50"))
    ]

    levels = signed_in.stock_levels(branch_id=branch_id)
    level = next(x for x in levels.items if x.product_id == product_id)
    assert level.on_hand == Decimal("4") and level.unit_cost == Decimal("2.50")
    history = signed_in.movements(branch_id=branch_id, product_id=product_id)
    assert [m.quantity for m in history.items] == [Decimal("4")]
    adjusted = signed_in.adjust_stock(
        branch_id=branch_id, product_id=product_id, quantity=Decimal("-1"), reason="damage"
    )
    assert (adjusted.code, adjusted.quantity, adjusted.reason) == (
        "adjustment",
        Decimal("-1"),
        "damage",
    )
    assert signed_in.incoming_stock(branch_id=branch_id) == []


def test_a_count_is_typed_from_start_to_post(signed_in: ApiClient, world: World) -> None:
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    count = signed_in.start_count(branch_id=branch_id)
    assert count.status == "open" and count.lines == []

    count = signed_in.set_count_line(count.id, product_id=product_id, quantity=Decimal("3"))
    assert [(x.product_id, x.counted, x.difference) for x in count.lines] == [
        (product_id, Decimal("3"), Decimal("3"))
    ]
    assert signed_in.stock_count(count.id).difference_value == count.difference_value
    assert signed_in.count_uncounted(count.id).lines == []
    assert signed_in.remove_count_line(count.id, product_id=product_id).lines == []
    count = signed_in.set_count_line(count.id, product_id=product_id, quantity=Decimal("3"))
    assert signed_in.post_count(count.id).status == "posted"


def test_a_transfer_is_typed_from_creation_to_receipt(signed_in: ApiClient, world: World) -> None:
    source, destination = world.a.branch_ids[:2]
    product_id = world.a.product_ids[0]
    signed_in.receive_stock(
        branch_id=source,
        lines=[{"product_id": product_id, "quantity": Decimal("5"), "unit_cost": Decimal("1")}],
    )
    made = signed_in.create_transfer(
        source_branch_id=source,
        destination_branch_id=destination,
        lines=[{"product_id": product_id, "quantity": Decimal("5")}],
    )
    assert signed_in.transfer_action(made.id, "dispatch").status == "dispatched"
    got = signed_in.receive_transfer(
        made.id, lines=[{"product_id": product_id, "quantity": Decimal("3")}], close=True
    )
    assert (got.status, [x.discrepancy for x in got.lines]) == ("closed", [Decimal("2")])
    assert signed_in.transfer(made.id).lines == got.lines
    assert [t.id for t in signed_in.transfers().items] == [made.id]


def test_settings_are_typed(signed_in: ApiClient) -> None:
    assert signed_in.settings().currency == "INR"

    changed = signed_in.put_setting("receipt_footer", "Come again")
    assert (changed.key, changed.value) == ("receipt_footer", "Come again")
    assert signed_in.settings().receipt_footer == "Come again"


def test_a_setting_only_a_newer_server_knows_is_left_out(
    signed_in: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager's app older than its server still opens the settings it knows."""
    answer = {**signed_in.settings().model_dump(mode="json"), "tomorrows_setting": True}
    monkeypatch.setattr(signed_in, "get", lambda path, **params: answer)
    settings = signed_in.settings()
    assert settings.currency == "INR" and not hasattr(settings, "tomorrows_setting")


# --- a server that is not a StockPilot server (a captive portal, a proxy's page, an old build)


def _answer(request: Request) -> Response:
    """Answer 200 with what the path names: HTML, nothing, a list, or an object."""
    path = request.url.path
    if path.endswith("/auth/login"):
        return JSONResponse({"access_token": "t", "token_type": "bearer", "expires_in": 60})
    if path.endswith("/auth/me"):
        return JSONResponse({"id": 1})  # an old server's me: no username, role, permissions
    if path.endswith("/settings/currency"):
        return JSONResponse({"key": "currency"})  # no value
    if path.endswith("/settings"):
        return JSONResponse(["not", "an", "object"])
    if path.endswith("/alerts/7/acknowledge"):
        return Response(status_code=200)  # empty
    if path.endswith("/stock/incoming"):
        return JSONResponse({"rows": []})  # an object where a list belongs
    if path.endswith("/stock/levels"):
        return JSONResponse({"items": [{"product_id": 1}], "total": 1, "limit": 50, "offset": 0})
    if path.endswith("/counts/5"):
        return JSONResponse({"id": 5, "status": "open"})  # no lines, no difference_value
    if path.endswith("/transfers/9"):
        return JSONResponse({"id": 9, "status": "dispatched", "lines": [{"product_id": 1}]})
    if path.endswith("/products"):
        return JSONResponse({"items": [{"id": "x"}], "total": 1, "limit": 50, "offset": 0})
    if path.endswith("/sales-requests/4/approve"):
        return JSONResponse({"id": 4, "number": "SR-4", "total": "a lot"})
    if path.endswith("/orders"):
        return JSONResponse(
            {"items": [{"id": 3, "status": "paid"}], "total": 1, "limit": 50, "offset": 0}
        )
    if path.endswith("/suppliers/5/account"):
        return JSONResponse({"supplier_id": 5, "balance_due": "lots"})  # not an amount
    if path.endswith("/purchase-orders/5"):
        return JSONResponse({"id": 5, "number": "PO-5", "status": "draft"})  # no lines, totals
    return HTMLResponse("<html><body>Sign in to the hotel Wi-Fi</body></html>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def stranger_url() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers 200 with the wrong things."""
    app = Starlette(
        routes=[Route("/{path:path}", _answer, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def stranger(stranger_url: str) -> Iterator[ApiClient]:
    client = ApiClient(stranger_url)
    yield client
    client.close()


def _refusal(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    assert isinstance(caught.value, UnexpectedAnswer)
    assert "not what this app expects" in caught.value.detail
    assert "up to date" in caught.value.detail
    return caught.value


def test_an_html_page_is_an_unexpected_answer(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.health())
    assert "/health" in error.detail and "a JSON document" in error.detail


def test_a_me_without_its_fields_fails_sign_in_with_words(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.login(username="admin", password=PASSWORD))
    assert "/auth/me" in error.detail and "MeRead" in error.detail
    assert stranger.me is None


def test_a_list_where_an_object_belongs(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.settings())
    assert "/settings" in error.detail and "TenantSettings" in error.detail


def test_an_empty_answer_where_an_object_belongs(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.acknowledge_alert(7))
    assert "/alerts/7/acknowledge" in error.detail


def test_an_object_where_a_list_belongs(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.incoming_stock(branch_id=1))
    assert "a list of JSON objects" in error.detail


def test_a_page_of_malformed_rows(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.products())
    assert "/products" in error.detail


def test_a_page_of_stock_levels_without_their_fields(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.stock_levels(branch_id=1))
    assert "/stock/levels" in error.detail and "StockLevelRead" in error.detail


def test_a_count_without_its_lines(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.stock_count(5))
    assert "/counts/5" in error.detail and "CountRead" in error.detail


def test_a_transfer_with_malformed_lines(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.transfer(9))
    assert "/transfers/9" in error.detail and "TransferRead" in error.detail


def test_a_changed_setting_without_its_value(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.put_setting("currency", "EUR"))
    assert "/settings/currency" in error.detail and "SettingRead" in error.detail


def test_a_purchase_order_without_its_lines_and_totals(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.purchase_order(5))
    assert "/purchase-orders/5" in error.detail and "PORead" in error.detail


def test_a_vendor_account_with_words_for_money(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.supplier_account(5))
    assert "/suppliers/5/account" in error.detail and "VendorAccountRead" in error.detail


def test_a_page_of_orders_without_their_lines(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.orders())
    assert "/orders" in error.detail and "OrderRead" in error.detail


def test_an_approved_sales_request_of_the_wrong_shape(stranger: ApiClient) -> None:
    error = _refusal(lambda: stranger.sales_request_action(4, "approve"))
    assert "/sales-requests/4/approve" in error.detail and "SalesRequestRead" in error.detail
