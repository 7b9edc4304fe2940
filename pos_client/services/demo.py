"""A demonstration replica for a till that has never synced: tests, benchmarks, screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from common.barcodes import make_ean13
from common.hashing import hash_secret
from common.ids import new_id
from pos_client.store import documents
from pos_client.store.models import Barcode, Customer, Product, Staff, StockLevel

DEMO_PIN = "1234"


@dataclass(frozen=True)
class DemoProduct:
    """One product of the hand-made demo catalog."""

    sku: str
    name: str
    price: str
    barcode: str
    tax_rate: str = "5"
    unit: str = "piece"
    on_hand: str = "40"
    low: str = "5"


DEMO_PRODUCTS = (
    DemoProduct("MILK-1L", "Amul Taaza Toned Milk 1 L", "66.00", make_ean13("890126200001")),
    DemoProduct(
        "BREAD-400", "Britannia Whole Wheat Bread 400 g", "55.00", make_ean13("890106300002")
    ),
    DemoProduct(
        "RICE-5KG",
        "India Gate Basmati Rice 5 kg",
        "649.00",
        make_ean13("890400100003"),
        on_hand="3",
    ),
    DemoProduct("TEA-250", "Tata Tea Gold 250 g", "165.00", make_ean13("890172500004")),
    DemoProduct(
        "ATTA-5KG",
        "Aashirvaad Whole Wheat Atta 5 kg",
        "289.00",
        make_ean13("890172500005"),
        tax_rate="0",
    ),
    DemoProduct(
        "SOAP-4",
        "Dove Cream Beauty Bar 4 x 100 g",
        "236.00",
        make_ean13("890103000006"),
        tax_rate="18",
    ),
    DemoProduct("DAL-1KG", "Toor Dal Premium 1 kg", "158.00", make_ean13("890400100007")),
    DemoProduct(
        "OIL-1L", "Fortune Sunflower Oil 1 L", "142.00", make_ean13("890400100008"), on_hand="2"
    ),
    DemoProduct("BISC-200", "Parle-G Gold Biscuits 200 g", "30.00", make_ean13("890171900009")),
    DemoProduct(
        "BANANA",
        "Bananas (loose)",
        "60.00",
        make_ean13("200001000000"),
        tax_rate="0",
        unit="kg",
        on_hand="25.5",
    ),
    DemoProduct(
        "PANEER",
        "Fresh Paneer (weighed)",
        "420.00",
        make_ean13("210002000000"),
        unit="kg",
        on_hand="6",
    ),
    DemoProduct("COKE-750", "Coca-Cola 750 ml", "40.00", "5449000000996", tax_rate="28"),
)

DEMO_STAFF = (
    (1, "asha", "Asha Verma", "cashier"),
    (2, "ravi", "Ravi Menon", "manager"),
    (3, "vik", "Vikram Shah", "viewer"),
)


def enrol_demo(session: Session, *, branch_id: int = 1, prefix: str = "BLR-T01") -> None:
    """Give the store a device identity without a server."""
    documents.configure_device(
        session,
        device_id=new_id(),
        token="spd_demo",
        tenant_id=1,
        branch_id=branch_id,
        branch_code="BLR",
        receipt_prefix=prefix,
        name="Till 1",
    )


def seed_demo(session: Session, *, pin: str = DEMO_PIN, extra_products: int = 0) -> None:
    """Fill an empty store with a small shop: staff, products, stock, customers."""
    enrol_demo(session)
    pin_hash = hash_secret(pin)
    session.execute(
        insert(Staff),
        [
            {"id": i, "username": u, "full_name": n, "role": r, "pin_hash": pin_hash}
            for i, u, n, r in DEMO_STAFF
        ],
    )
    products, barcodes, levels = [], [], []
    for number, item in enumerate(DEMO_PRODUCTS, start=1):
        products.append(
            {
                "id": number,
                "sku": item.sku,
                "name": item.name,
                "price": Decimal(item.price),
                "tax_rate": Decimal(item.tax_rate),
                "unit": item.unit,
                "low_stock_threshold": Decimal(item.low),
                "active": True,
            }
        )
        barcodes.append({"code": item.barcode, "product_id": number})
        levels.append({"product_id": number, "on_hand": Decimal(item.on_hand)})
    session.execute(insert(Product), products)
    session.execute(insert(Barcode), barcodes)
    session.execute(insert(StockLevel), levels)
    if extra_products:
        seed_bulk(session, count=extra_products, first_id=len(DEMO_PRODUCTS) + 1)
    session.execute(
        insert(Customer),
        [
            {
                "local_id": new_id(),
                "server_id": 501,
                "name": "Meera Stores",
                "phone": "9845012345",
                "credit_limit": Decimal("5000"),
                "balance": Decimal("1200"),
            },
            {
                "local_id": new_id(),
                "server_id": 502,
                "name": "Kiran Rao",
                "phone": "9900011122",
                "credit_limit": Decimal("1000"),
                "balance": Decimal("900"),
            },
        ],
    )


_WORDS = (
    "Masala",
    "Organic",
    "Classic",
    "Premium",
    "Fresh",
    "Golden",
    "Royal",
    "Spicy",
    "Crunchy",
    "Herbal",
    "Natural",
    "Instant",
    "Roasted",
    "Sweet",
    "Salted",
    "Pure",
)
_KINDS = (
    "Chips",
    "Noodles",
    "Juice",
    "Shampoo",
    "Cookies",
    "Pickle",
    "Ghee",
    "Coffee",
    "Soap",
    "Detergent",
    "Jam",
    "Sauce",
    "Flour",
    "Spice Mix",
    "Cereal",
    "Candy",
)


def bulk_barcode(number: int) -> str:
    """Return the EAN-13 of bulk product number (for benchmarks and load tests)."""
    return make_ean13(f"89{number:010d}")


def seed_bulk(session: Session, *, count: int, first_id: int = 1000, batch: int = 20_000) -> None:
    """Add count generated products with barcodes and stock, in big batches."""
    for start in range(first_id, first_id + count, batch):
        stop = min(start + batch, first_id + count)
        session.execute(
            insert(Product),
            [
                {
                    "id": n,
                    "sku": f"SKU{n:07d}",
                    "name": f"{_WORDS[n % 16]} {_KINDS[(n // 16) % 16]} {n % 997} g",
                    "price": Decimal(10 + n % 490),
                    "tax_rate": Decimal("12"),
                    "unit": "piece",
                    "low_stock_threshold": Decimal(2),
                    "active": True,
                }
                for n in range(start, stop)
            ],
        )
        session.execute(
            insert(Barcode),
            [{"code": bulk_barcode(n), "product_id": n} for n in range(start, stop)],
        )
        session.execute(
            insert(StockLevel),
            [{"product_id": n, "on_hand": Decimal(50)} for n in range(start, stop)],
        )
