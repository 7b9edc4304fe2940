"""The scan's plain-SQL lookup answers exactly what the ORM queries it replaced answered."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from common.barcodes import lookup_candidates, make_ean13, parse_scan
from common.codes import Unit
from common.tax import class_from_wire
from pos_client.scanners.pipeline import ScanMatch, match_scan, resolve
from pos_client.services import queries
from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.services.packs import UNIT_PRICE_PLACES, PackScan, find_pack
from pos_client.services.till import CatalogItem
from pos_client.store.db import LocalStore
from pos_client.store.models import Barcode, Pack, Product, ReplicaRow, StockLevel

D = Decimal
CASE = make_ean13("590000000112")
DEAD_CASE = make_ean13("590000000129")
UPC_STORED = make_ean13("001234567890")[1:]  # a product entered by hand under its UPC-A
GST_12 = {
    "code": "GST12",
    "name": "GST 12%",
    "rates": [
        {
            "effective_from": "2017-07-01",
            "components": [
                {"code": "CGST", "rate": "6", "scope": "intra"},
                {"code": "SGST", "rate": "6", "scope": "intra"},
                {"code": "IGST", "rate": "12", "scope": "inter"},
            ],
        }
    ],
}


# --- the lookup as the ORM did it before (the reference) ----------------------------------


def _orm_item(product: Product, *, barcode: str | None, on_hand: Decimal | None) -> CatalogItem:
    session = object_session(product)
    tax_class = None
    if product.tax_class_id is not None and session is not None:
        row = session.get(ReplicaRow, ("tax_class", str(product.tax_class_id)))
        tax_class = class_from_wire(row.data) if row is not None and row.data else None
    return CatalogItem(
        tax_class=tax_class,
        hsn=product.hsn or "",
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        price=product.price,
        unit=Unit(product.unit) if product.unit in Unit.__members__.values() else Unit.PIECE,
        tax_rate=product.tax_rate,
        barcode=barcode,
        on_hand=on_hand,
        low_stock_threshold=product.low_stock_threshold,
        category_id=product.category_id,
        template_id=product.template_id,
        variant=product.variant,
    )


def _orm_on_hand(session: Session, product_id: int) -> Decimal | None:
    return session.scalar(select(StockLevel.on_hand).where(StockLevel.product_id == product_id))


def orm_find_by_codes(session: Session, codes: tuple[str, ...]) -> CatalogItem | None:
    for code in codes:
        row = session.execute(
            select(Product, Barcode.code)
            .join(Barcode, Barcode.product_id == Product.id)
            .where(Barcode.code == code, Product.active.is_(True))
        ).first()
        if row is not None:
            product, barcode = row
            return _orm_item(product, barcode=barcode, on_hand=_orm_on_hand(session, product.id))
    for code in codes:
        by_sku = session.scalars(
            select(Product).where(Product.sku == code, Product.active.is_(True)).limit(1)
        ).first()
        if by_sku is not None:
            return _orm_item(by_sku, barcode=None, on_hand=_orm_on_hand(session, by_sku.id))
    return None


def orm_find_pack(session: Session, codes: tuple[str, ...]) -> PackScan | None:
    for code in codes:
        pack = session.scalar(
            select(Pack)
            .join(Product, Product.id == Pack.product_id)
            .where(Pack.code == code, Product.active.is_(True))
        )
        if pack is None:
            continue
        product = session.get(Product, pack.product_id)
        assert product is not None
        item = _orm_item(product, barcode=None, on_hand=_orm_on_hand(session, product.id))
        unit_price = (pack.price / pack.quantity).quantize(
            UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP
        )
        return PackScan(
            item=dataclasses.replace(item, price=unit_price, barcode=code),
            quantity=pack.quantity,
            unit_price=unit_price,
            label=pack.label,
        )
    return None


def orm_resolve(session: Session, raw: str) -> ScanMatch | None:
    scan = parse_scan(raw)
    candidates = lookup_candidates(scan)
    item = orm_find_by_codes(session, candidates)
    if item is None:
        pack = orm_find_pack(session, candidates)
        if pack is not None:
            return ScanMatch(item=pack.item, quantity=pack.quantity, unit_price=None)
    return None if item is None else match_scan(scan, item)


# --- a replica holding every kind of case ---------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
        # Tea has a GST class, an HSN code, a category and is a variant of a template.
        session.add(ReplicaRow(entity="tax_class", key="7", data=GST_12))
        session.execute(
            update(Product)
            .where(Product.id == 4)
            .values(
                tax_class_id=7, hsn="0902", category_id=3, template_id=40, variant="250 g / Gold"
            )
        )
        # Bread names a class the replica does not hold (yet): it sells at its plain rate.
        session.execute(update(Product).where(Product.id == 2).values(tax_class_id=99))
        session.add(Barcode(code=UPC_STORED, product_id=2))
        # A case of 12 teas for 1,000.00 (83.3333 a piece), and a case of an archived product.
        session.add(Pack(code=CASE, product_id=4, label="case", quantity=D("12"), price=D("1000")))
        session.add(
            Pack(code=DEAD_CASE, product_id=3, label="case", quantity=D("6"), price=D("3000"))
        )
        session.execute(update(Product).where(Product.id == 3).values(active=False))
        # A product the replica holds no stock level for, sold by weight under an odd unit.
        session.add(Product(id=900, sku="LOOSE-1", name="Loose dal", price=D("120.50")))
        session.add(Barcode(code=make_ean13("590000000136"), product_id=900))
        # Two products share a SKU: the archived one first, then two live ones.
        session.add(Product(id=901, sku="TWIN", name="Twin old", price=D("1"), active=False))
        session.add(Product(id=902, sku="TWIN", name="Twin A", price=D("2")))
        session.add(Product(id=903, sku="TWIN", name="Twin B", price=D("3")))
        # A scale's price labels (prefix 26) for paneer's item code.
        session.add(Barcode(code=make_ean13("260002000000"), product_id=11))
    yield store
    store.close()


SCANS = {
    "unit barcode": DEMO_PRODUCTS[0].barcode,
    "tax class, hsn, variant": DEMO_PRODUCTS[3].barcode,
    "class not in the replica": DEMO_PRODUCTS[1].barcode,
    "UPC-A stored, EAN-13 read": "0" + UPC_STORED,
    "inactive product": DEMO_PRODUCTS[2].barcode,
    "pack barcode": CASE,
    "pack of an inactive product": DEAD_CASE,
    "no stock level": make_ean13("590000000136"),
    "weighed label": make_ean13("210002000450"),
    "price label": make_ean13("260002015075"),
    "unknown": make_ean13("290009900000"),
    "unknown EAN": make_ean13("400000000001"),
    "SKU": "ATTA-5KG",
    "inactive SKU": "RICE-5KG",
    "shared SKU": "TWIN",
}


@pytest.mark.parametrize("raw", SCANS.values(), ids=SCANS.keys())
def test_a_scan_resolves_as_the_orm_lookup_did(store: LocalStore, raw: str) -> None:
    with store.session() as session:
        expected = orm_resolve(session, raw)
    with store.session() as session:
        assert resolve(session, parse_scan(raw)) == expected


@pytest.mark.parametrize("raw", SCANS.values(), ids=SCANS.keys())
def test_codes_and_packs_are_found_as_the_orm_found_them(store: LocalStore, raw: str) -> None:
    codes = lookup_candidates(parse_scan(raw))
    with store.session() as session:
        expected = orm_find_by_codes(session, codes), orm_find_pack(session, codes)
    with store.session() as session:
        assert (queries.find_by_codes(session, codes), find_pack(session, codes)) == expected


def test_the_cases_answer_what_the_till_sells(store: LocalStore) -> None:
    """The reference itself is right: what each kind of scan puts in the cart."""
    with store.session() as session:
        found = {name: resolve(session, parse_scan(raw)) for name, raw in SCANS.items()}
    assert found["unit barcode"].item.sku == "MILK-1L"
    assert found["unit barcode"].item.price == D("66.00")
    tea = found["tax class, hsn, variant"].item
    assert tea.tax_class is not None and tea.tax_class.code == "GST12"
    assert (tea.hsn, tea.category_id, tea.template_id, tea.variant) == (
        "0902",
        3,
        40,
        "250 g / Gold",
    )
    assert found["class not in the replica"].item.tax_class is None
    assert found["UPC-A stored, EAN-13 read"].item.barcode == UPC_STORED
    case = found["pack barcode"]
    assert (case.item.sku, case.quantity, case.item.price) == ("TEA-250", D("12"), D("83.3333"))
    assert case.item.barcode == CASE and case.unit_price is None
    assert found["no stock level"].item.on_hand is None
    weighed = found["weighed label"]
    assert (weighed.item.sku, weighed.quantity, weighed.item.unit) == (
        "PANEER",
        D("0.450"),
        Unit.KG,
    )
    assert found["price label"].unit_price == D("150.75")
    assert found["SKU"].item.sku == "ATTA-5KG" and found["SKU"].item.barcode is None
    assert found["shared SKU"].item.name == "Twin A"
    for gone in ("inactive product", "pack of an inactive product", "unknown", "inactive SKU"):
        assert found[gone] is None, gone


def test_a_pending_change_in_the_session_is_seen_as_the_orm_saw_it(store: LocalStore) -> None:
    code = make_ean13("590000000143")
    with store.session() as session:
        session.add(Barcode(code=code, product_id=1))
        session.get(Product, 1).price = D("70.00")  # not flushed yet
        found = queries.find_by_codes(session, (code,))
        assert found == orm_find_by_codes(session, (code,))
        session.rollback()
    assert found is not None and found.price == D("70.00")
    with store.session() as session:
        assert queries.find_by_codes(session, (code,)) is None  # it was never committed
