"""Till services over a real local store file: sign-in, search, scans, sales, returns, shifts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from common.barcodes import make_ean13, parse_scan
from common.codes import Tender, Unit
from common.errors import (
    AuthenticationFailed,
    CreditLimitExceeded,
    InvalidState,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)
from common.roles import Role
from pos_client.scanners.pipeline import resolve
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.services.login import Cashier, LoginGuard, sign_in
from pos_client.services.till import Cart, CreditInfo, Payment, card_payment, cash_payment
from pos_client.store.db import LocalStore
from pos_client.store.models import Barcode, Customer, Product, StockLevel

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")
ASHA = Cashier(user_id=1, username="asha", full_name="Asha Verma", role=Role.CASHIER)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
    with store.engine.begin() as conn:
        queries.ensure_search_index(conn)
    yield store
    store.close()


@pytest.fixture
def shift_id(store: LocalStore) -> str:
    with store.transaction() as session:
        return shifts.open_shift(session, cashier=ASHA, opening_float=D("500")).shift_id


def item(store: LocalStore, number: int):
    with store.session() as session:
        return queries.find_by_codes(session, (DEMO_PRODUCTS[number].barcode,))


def sell(store: LocalStore, shift_id: str, cart: Cart, payments: list[Payment]):
    with store.transaction() as session:
        return complete_sale(
            session, cart=cart, payments=payments, cashier=ASHA, shift_id=shift_id, shop=SHOP
        )


def test_offline_sign_in_checks_the_synced_hash(store: LocalStore) -> None:
    guard = LoginGuard(clock=lambda: 1000.0)
    with store.session() as session:
        assert sign_in(session, username="ASHA", pin="1234", guard=guard) == ASHA
        with pytest.raises(AuthenticationFailed, match="Wrong username or PIN"):
            sign_in(session, username="asha", pin="4321", guard=guard)
        with pytest.raises(AuthenticationFailed):
            sign_in(session, username="nobody", pin="1234", guard=guard)
        with pytest.raises(PermissionDenied, match="not allowed to sell"):
            sign_in(session, username="vik", pin="1234")  # a viewer
        for _ in range(5):
            with pytest.raises(AuthenticationFailed):
                sign_in(session, username="ravi", pin="0000", guard=guard)
        with pytest.raises(TooManyRequests):
            sign_in(session, username="ravi", pin="1234", guard=guard)


def test_search_index_follows_the_replica(store: LocalStore) -> None:
    with store.session() as session:
        assert [i.sku for i in queries.search_products(session, "basm ric")] == ["RICE-5KG"]
        assert [i.sku for i in queries.search_products(session, "tea-25")] == ["TEA-250"]
        assert queries.search_products(session, "zzz") == []
    # A pull renames one product and archives another: the index is kept in step.
    with store.transaction() as session:
        session.execute(
            update(Product).where(Product.sku == "TEA-250").values(name="Tata Tea Premium 500 g")
        )
        session.add(Product(id=900, sku="NEW-1", name="Mysore Pak Sweets", price=D("120")))
        session.execute(update(Product).where(Product.sku == "RICE-5KG").values(active=False))
    with store.session() as session:
        assert [i.name for i in queries.search_products(session, "tata prem")] == [
            "Tata Tea Premium 500 g"
        ]
        assert queries.search_products(session, "tata gold") == []
        assert [i.sku for i in queries.search_products(session, "mysore")] == ["NEW-1"]
        assert queries.search_products(session, "basmati") == []


def test_scans_decode_labels_and_upc(store: LocalStore) -> None:
    ean = make_ean13("001234567890")
    with store.transaction() as session:
        session.add(Barcode(code=ean, product_id=2))
        # A scale that prints price labels (prefix 26) for paneer's item code.
        session.add(Barcode(code=make_ean13("260002000000"), product_id=11))
    with store.session() as session:
        weighed = resolve(session, parse_scan(make_ean13("210002000450")))  # 0.450 kg
        priced = resolve(session, parse_scan(make_ean13("260002015075")))  # ₹150.75
        upc = resolve(session, parse_scan(ean[1:]))  # the same code read as UPC-A
        unknown = resolve(session, parse_scan(make_ean13("290009900000")))
    assert weighed.item.sku == "PANEER" and weighed.quantity == D("0.450")
    assert weighed.item.unit == Unit.KG and weighed.unit_price is None
    assert (priced.quantity, priced.unit_price, priced.item.unit) == (D(1), D("150.75"), Unit.PIECE)
    assert upc.item.sku == "BREAD-400"
    assert unknown is None


def test_sale_records_everything_and_rechecks_credit_at_commit(
    store: LocalStore, shift_id: str
) -> None:
    cart = Cart()
    cart.add(item(store, 3))  # tea 165
    with store.session() as session:
        kiran = next(c for c in queries.find_customers(session, "kiran"))
    # The cart holds a stale copy saying Kiran owes nothing; the store says 900 of 1000.
    cart.set_customer(
        CreditInfo(
            customer_id=kiran.customer_id,
            local_id=kiran.local_id,
            name=kiran.name,
            credit_limit=kiran.credit_limit,
            balance=D(0),
        )
    )
    with pytest.raises(CreditLimitExceeded, match="only ₹100.00"):
        sell(store, shift_id, cart, [Payment(tender=Tender.ACCOUNT, amount=D("165.00"))])
    with store.session() as session:
        assert session.get(StockLevel, 4).on_hand == D(40)  # nothing was written
    with pytest.raises(InvalidState, match="Open a shift"):
        sell(store, None, cart, [cash_payment(due=D("165.00"), tendered=D("200"))])
    done = sell(store, shift_id, cart, [cash_payment(due=D("165.00"), tendered=D("200"))])
    assert (done.receipt_number, done.change_due) == ("BLR-T01-000001", D("35.00"))
    assert done.receipt.customer == "Kiran Rao"


def test_partial_return_refunds_split_tenders_in_proportion(
    store: LocalStore, shift_id: str
) -> None:
    cart = Cart()
    cart.add(item(store, 0), quantity=D(2))  # milk 2 x 66
    cart.add(item(store, 2))  # rice 649
    done = sell(
        store,
        shift_id,
        cart,
        [
            card_payment(amount=D("390.50"), reference="T1"),
            cash_payment(due=D("390.50"), tendered=D("400")),
        ],
    )
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=done.receipt_number.lower())
        assert sale.paid == (("card", D("390.50"), "T1"), ("cash", D("390.50"), None))
        milk = next(line for line in sale.lines if line.sku == "MILK-1L")
        back = returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={milk.line_id: D(1)},
            cashier=ASHA,
            shift_id=shift_id,
            reason="",
            shop=SHOP,
        )
    assert back.total == D("66.00")
    assert sorted((str(r.method), r.amount) for r in back.refunds) == [
        ("card", D("33.00")),
        ("cash", D("33.00")),
    ]
    with store.transaction() as session, pytest.raises(ValidationFailed, match="Only 1"):
        returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={milk.line_id: D(2)},
            cashier=ASHA,
            shift_id=shift_id,
            reason="",
            shop=SHOP,
        )
    with store.session() as session:
        assert session.get(StockLevel, 1).on_hand == D(39)


def test_account_refund_gives_credit_back(store: LocalStore, shift_id: str) -> None:
    with store.session() as session:
        meera = queries.find_customers(session, "Meera")[0]
    cart = Cart()
    cart.add(item(store, 3))
    cart.set_customer(meera)
    done = sell(store, shift_id, cart, [Payment(tender=Tender.ACCOUNT, amount=D("165.00"))])
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=done.receipt_number)
        returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={sale.lines[0].line_id: D(1)},
            cashier=ASHA,
            shift_id=shift_id,
            reason="",
            shop=SHOP,
        )
    with store.session() as session:
        balance = session.scalars(select(Customer.balance).where(Customer.server_id == 501)).one()
    assert balance == D("1200")  # 1200 + 165 - 165


def test_z_report_expected_cash(store: LocalStore, shift_id: str) -> None:
    cart = Cart()
    cart.add(item(store, 3))
    sell(store, shift_id, cart, [cash_payment(due=D("165.00"), tendered=D("500"))])
    cart = Cart()
    cart.add(item(store, 1))
    sell(store, shift_id, cart, [card_payment(amount=D("55.00"), reference="X")])
    with store.transaction() as session:
        shifts.move_cash(
            session,
            cashier=ASHA,
            shift_id=shift_id,
            direction="out",
            amount=D("100"),
            reason="Milk supplier",
        )
        with pytest.raises(ValidationFailed, match="Say why"):
            shifts.move_cash(
                session, cashier=ASHA, shift_id=shift_id, direction="in", amount=D("5"), reason=" "
            )
    with store.transaction() as session:
        z = shifts.close_shift(session, cashier=ASHA, shift_id=shift_id, counted_cash=D("560"))
    assert z.by_tender == {"cash": D("165.00"), "card": D("55.00")}
    assert (z.sale_count, z.gross_sales, z.cash_out) == (2, D("220.00"), D("100.00"))
    assert (z.expected_cash, z.variance) == (D("565.00"), D("-5.00"))
    assert ("Difference", "-5.00") in z.rows()
    with store.transaction() as session, pytest.raises(InvalidState):
        shifts.close_shift(session, cashier=ASHA, shift_id=shift_id, counted_cash=D("1"))


def test_sign_in_before_the_first_sync_says_so(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "empty.db")
    with store.session() as session, pytest.raises(AuthenticationFailed, match="first sync"):
        sign_in(session, username="asha", pin="1234")
    store.close()


def test_a_whole_weight_prints_kg_because_the_product_is_weighed(
    store: LocalStore, shift_id: str
) -> None:
    from pos_client.printing.receipt import render_text
    from pos_client.services.checkout import receipt_copy

    cart = Cart()
    with store.session() as session:
        for weight in ("210002001000", "210002002000"):  # exactly 1.000 kg, then 2.000 kg
            match = resolve(session, parse_scan(make_ean13(weight)))
            cart.add(match.item, quantity=match.quantity)
    cart.add(item(store, 3), quantity=D(2))  # two packs of tea: pieces print no unit
    due = cart.totals().total
    done = sell(store, shift_id, cart, [cash_payment(due=due, tendered=due)])
    with store.session() as session:
        copy = receipt_copy(session, receipt_number=done.receipt_number, shop=SHOP)
    for receipt in (done.receipt, copy):
        assert [(line.quantity.normalize(), line.unit) for line in receipt.lines] == [
            (D(1), "kg"),
            (D(2), "kg"),
            (D(2), ""),
        ]
        text = "\n".join(render_text(receipt))
        assert "  1 kg x" in text and "  2 kg x" in text and "  2 x" in text
    # The refund receipt takes the unit from the product too.
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=done.receipt_number)
        back = returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={line.line_id: line.sold for line in sale.lines},
            cashier=ASHA,
            shift_id=shift_id,
            reason="",
            shop=SHOP,
        )
    assert [(line.quantity.normalize(), line.unit) for line in back.receipt.lines] == [
        (D(1), "kg"),
        (D(2), "kg"),
        (D(2), ""),
    ]
