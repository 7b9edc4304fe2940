"""A realistic demo shop: two branches, a catalog with valid EAN-13 codes, partners, staff."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from common.barcodes import make_ean13
from common.codes import AdjustReason, BranchKind, Unit
from common.roles import Role
from common.schemas.auth import UserCreate
from common.schemas.catalog import CategoryCreate, ProductCreate
from common.schemas.org import BranchCreate
from common.schemas.partners import CustomerCreate, SupplierCreate
from sync_server.auth import service as auth_service
from sync_server.auth.models import User
from sync_server.auth.security import issue_access_token
from sync_server.catalog import service as catalog
from sync_server.catalog.models import Product
from sync_server.config import Settings
from sync_server.db import make_sessionmaker, transaction
from sync_server.demo_history import (
    DemoApi,
    DemoProduct,
    enrol_till,
    online_orders,
    purchase_cycle,
    push,
    submit_po,
    till_month,
    transfer,
)
from sync_server.foundation.principal import Actor, Principal
from sync_server.inventory.costing import COST_PLACES, receive
from sync_server.inventory.ledger import adjust
from sync_server.inventory.models import StockMovement
from sync_server.org import service as org
from sync_server.org.models import Branch, Tenant
from sync_server.partners import service as partners
from sync_server.partners.models import Customer, Supplier

# (category, name, price, cost, tax %, unit)
PRODUCTS: list[tuple[str, str, str, str, str, str]] = [
    ("Staples", "Basmati Rice 5 kg", "649.00", "520.00", "5", "piece"),
    ("Staples", "Sona Masoori Rice 10 kg", "899.00", "730.00", "5", "piece"),
    ("Staples", "Whole Wheat Atta 10 kg", "489.00", "410.00", "5", "piece"),
    ("Staples", "Toor Dal 1 kg", "169.00", "138.00", "5", "piece"),
    ("Staples", "Moong Dal 1 kg", "149.00", "121.00", "5", "piece"),
    ("Staples", "Chana Dal 1 kg", "109.00", "88.00", "5", "piece"),
    ("Staples", "Sugar 1 kg", "48.00", "41.00", "5", "piece"),
    ("Staples", "Iodised Salt 1 kg", "28.00", "21.00", "0", "piece"),
    ("Staples", "Sunflower Oil 1 L", "165.00", "139.00", "5", "piece"),
    ("Staples", "Mustard Oil 1 L", "185.00", "152.00", "5", "piece"),
    ("Staples", "Desi Ghee 500 ml", "329.00", "281.00", "12", "piece"),
    ("Loose", "Onions (loose)", "40.00", "28.00", "0", "kg"),
    ("Loose", "Potatoes (loose)", "30.00", "21.00", "0", "kg"),
    ("Loose", "Tomatoes (loose)", "36.00", "24.00", "0", "kg"),
    ("Spices", "Turmeric Powder 200 g", "62.00", "48.00", "5", "piece"),
    ("Spices", "Red Chilli Powder 200 g", "78.00", "60.00", "5", "piece"),
    ("Spices", "Garam Masala 100 g", "85.00", "64.00", "5", "piece"),
    ("Spices", "Cumin Seeds 100 g", "55.00", "41.00", "5", "piece"),
    ("Dairy", "Toned Milk 500 ml", "27.00", "24.00", "0", "piece"),
    ("Dairy", "Curd 400 g", "45.00", "37.00", "5", "piece"),
    ("Dairy", "Paneer 200 g", "90.00", "74.00", "5", "piece"),
    ("Dairy", "Salted Butter 100 g", "56.00", "47.00", "12", "piece"),
    ("Beverages", "Assam Tea 500 g", "285.00", "231.00", "5", "piece"),
    ("Beverages", "Filter Coffee 200 g", "210.00", "168.00", "5", "piece"),
    ("Beverages", "Mango Drink 1.2 L", "75.00", "58.00", "12", "piece"),
    ("Beverages", "Cola 750 ml", "40.00", "31.00", "28", "piece"),
    ("Beverages", "Packaged Water 1 L", "20.00", "13.00", "18", "piece"),
    ("Snacks", "Salted Chips 52 g", "20.00", "15.00", "12", "piece"),
    ("Snacks", "Bhujia Sev 400 g", "110.00", "86.00", "12", "piece"),
    ("Snacks", "Glucose Biscuits 800 g", "95.00", "78.00", "18", "piece"),
    ("Snacks", "Cream Biscuits 120 g", "30.00", "23.00", "18", "piece"),
    ("Snacks", "Instant Noodles 4-pack", "56.00", "45.00", "12", "piece"),
    ("Snacks", "Dark Chocolate 100 g", "120.00", "92.00", "18", "piece"),
    ("Household", "Detergent Powder 1 kg", "135.00", "108.00", "18", "piece"),
    ("Household", "Dishwash Bar 3-pack", "60.00", "46.00", "18", "piece"),
    ("Household", "Floor Cleaner 1 L", "199.00", "157.00", "18", "piece"),
    ("Household", "Toilet Roll 4-pack", "180.00", "139.00", "18", "piece"),
    ("Personal care", "Bath Soap 4-pack", "160.00", "124.00", "18", "piece"),
    ("Personal care", "Shampoo 340 ml", "245.00", "193.00", "18", "piece"),
    ("Personal care", "Toothpaste 150 g", "99.00", "77.00", "18", "piece"),
    ("Personal care", "Coconut Hair Oil 300 ml", "140.00", "109.00", "18", "piece"),
]

SUPPLIERS = [
    SupplierCreate(
        name="Shree Ganesh Traders",
        contact_name="Ramesh Gupta",
        email="orders@ganeshtraders.example",
        phone="+91 98200 11223",
        address="APMC Market, Vashi, Navi Mumbai",
        payment_terms_days=30,
    ),
    SupplierCreate(
        name="Fresh Dairy Co-op",
        contact_name="Anita Patil",
        email="supply@freshdairy.example",
        phone="+91 98765 43210",
        address="MIDC Bhosari, Pune",
        payment_terms_days=7,
    ),
    SupplierCreate(
        name="HomeCare Distributors",
        contact_name="Vikram Shah",
        email="vikram@homecare.example",
        phone="+91 99300 55667",
        address="Bhiwandi Warehousing Zone, Thane",
        payment_terms_days=45,
    ),
]

CUSTOMERS = [
    CustomerCreate(
        name="Anjali Sharma",
        phone="+91 98111 22334",
        email="anjali@example.com",
        credit_limit=Decimal("5000"),
    ),
    CustomerCreate(
        name="Hotel Sai Palace",
        phone="+91 22 2654 7788",
        email="accounts@saipalace.example",
        address="Linking Road, Bandra",
        tax_number="27AABCS1429B1Z5",
        credit_limit=Decimal("50000"),
    ),
    CustomerCreate(name="Rahul Verma", phone="+91 99876 54321", credit_limit=Decimal("2000")),
    CustomerCreate(
        name="Green Leaf Cafe",
        phone="+91 98200 99887",
        email="hello@greenleaf.example",
        credit_limit=Decimal("20000"),
    ),
]


def _supplier_for(category: str) -> int:
    return {"Dairy": 1, "Household": 2, "Personal care": 2}.get(category, 0)


class DemoRefused(Exception):
    """The demo would land in a business that already holds data of its own."""


@dataclass(frozen=True, slots=True)
class _Loaded:
    tenant_id: int
    admin_id: int
    branch_ids: list[int]
    supplier_ids: list[int]
    products: list[DemoProduct]
    staff: dict[str, int]


def _holds_data(session: Session, *, tenant_id: int) -> bool:
    """Say whether a business has anything besides what `init` made (admin, one branch)."""
    for model in (Product, Customer, Supplier):
        if session.scalar(select(model.id).where(model.tenant_id == tenant_id).limit(1)):
            return True
    branches = session.scalars(select(Branch.id).where(Branch.tenant_id == tenant_id)).all()
    if len(branches) > 1:
        return True
    return bool(
        session.scalar(
            select(User.id)
            .where(User.tenant_id == tenant_id, User.role != Role.ADMIN.value)
            .limit(1)
        )
    )


def load_demo_data(
    engine: Engine, *, settings: Settings | None = None, force: bool = False, history: bool = True
) -> str:
    """Fill the first business with a demo shop and a month of its history.

    Refuse (DemoRefused) when the business already holds data, unless forced: the demo adds
    staff with known passwords.
    """
    if not inspect(engine).has_table(Tenant.__tablename__):
        raise DemoRefused("The database is not initialised; run 'stockpilot-server init'.")
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        tenant = session.scalar(select(Tenant).order_by(Tenant.id))
        if tenant is None:
            raise DemoRefused(
                "The database is not initialised; run 'stockpilot-server init' first."
            )
        if not force and _holds_data(session, tenant_id=tenant.id):
            raise DemoRefused(
                f"The business '{tenant.name}' already holds data; the demo adds staff with known "
                "passwords, so it loads only into an empty business (--force to load it anyway)."
            )
        admin = session.scalar(
            select(User).where(User.tenant_id == tenant.id, User.role == Role.ADMIN.value)
        )
        actor = Principal.for_user(
            tenant_id=tenant.id,
            user_id=admin.id if admin else 0,
            username=admin.username if admin else "system",
            role=Role.ADMIN.value,
            branch_ids=[],
        )
        branches = [
            org.create_branch(
                session,
                actor=actor,
                tenant_id=tenant.id,
                data=BranchCreate(
                    name="Andheri Main Store",
                    code="AND",
                    kind=BranchKind.STORE,
                    address="12 S.V. Road, Andheri West",
                    city="Mumbai",
                    phone="+91 22 2620 1000",
                ),
            ),
            org.create_branch(
                session,
                actor=actor,
                tenant_id=tenant.id,
                data=BranchCreate(
                    name="Bandra Market Store",
                    code="BAN",
                    kind=BranchKind.STORE,
                    address="45 Hill Road, Bandra West",
                    city="Mumbai",
                    phone="+91 22 2640 2000",
                ),
            ),
        ]
        suppliers = [partners.create_supplier(session, actor=actor, data=s) for s in SUPPLIERS]
        for c in CUSTOMERS:
            partners.create_customer(session, actor=actor, data=c)
        categories = {}
        for name in dict.fromkeys(p[0] for p in PRODUCTS):
            categories[name] = catalog.create_category(
                session, actor=actor, data=CategoryCreate(name=name)
            )
        products = []
        for index, (cat, name, price, cost, tax, unit) in enumerate(PRODUCTS, start=1):
            if unit == "kg":
                # Weighed at the counter: the scale prints a 21-prefixed weight label.
                body = f"21{index:05d}00000"
            else:
                body = f"890{1000 + index:04d}{index * 37 % 100000:05d}"
            products.append(
                catalog.create_product(
                    session,
                    actor=actor,
                    data=ProductCreate(
                        sku=f"SKU-{index:04d}",
                        name=name,
                        category_id=categories[cat].id,
                        supplier_id=suppliers[_supplier_for(cat)].id,
                        price=Decimal(price),
                        cost=Decimal(cost),
                        tax_rate=Decimal(tax),
                        unit=Unit(unit),
                        low_stock_threshold=Decimal("10" if unit == "piece" else "5"),
                        reorder_quantity=Decimal("48" if unit == "piece" else "25"),
                        barcodes=[make_ean13(body)],
                    ),
                )
            )
        staff = [
            UserCreate(
                username="manager",
                full_name="Priya Nair",
                password="manager-pass",
                pin="2468",
                role=Role.MANAGER,
                branch_ids=[branches[0].id],
            ),
            UserCreate(
                username="cashier",
                full_name="Arjun Mehta",
                password="cashier-pass",
                pin="1111",
                role=Role.CASHIER,
                branch_ids=[branches[0].id],
            ),
            UserCreate(
                username="cashier2",
                full_name="Sneha Kulkarni",
                password="cashier-pass",
                pin="2222",
                role=Role.CASHIER,
                branch_ids=[branches[1].id],
            ),
            UserCreate(
                username="buyer",
                full_name="Imran Khan",
                password="buyer-pass",
                role=Role.PURCHASE_ADMIN,
            ),
            UserCreate(
                username="sales",
                full_name="Deepa Rao",
                password="sales-pass",
                role=Role.SALES_ADMIN,
            ),
            UserCreate(
                username="viewer", full_name="Auditor", password="viewer-pass", role=Role.VIEWER
            ),
        ]
        for user in staff:
            if session.scalar(select(User.id).where(User.username == user.username)) is None:
                auth_service.create_user(session, actor=actor, tenant_id=tenant.id, data=user)
        stocked = demo_opening_stock(
            session, actor=actor.actor, branches=branches, products=products
        )
        staff_ids = dict(
            session.execute(select(User.username, User.id).where(User.tenant_id == tenant.id)).all()
        )
        loaded = _Loaded(
            tenant_id=tenant.id,
            admin_id=admin.id if admin else 0,
            branch_ids=[b.id for b in branches],
            supplier_ids=[s.id for s in suppliers],
            products=[
                DemoProduct(
                    id=p.id,
                    sku=p.sku,
                    name=p.name,
                    price=p.price,
                    unit=p.unit,
                    tax_rate=p.tax_rate,
                )
                for p in products
            ],
            staff=staff_ids,
        )
    summary = (
        f"Demo data loaded: {len(branches)} branches, {len(products)} products, "
        f"{len(SUPPLIERS)} suppliers, {len(CUSTOMERS)} customers, {len(staff)} staff, "
        f"{stocked} stock receipts"
    )
    if history and loaded.admin_id:
        summary += ", " + _history(engine, settings=settings or Settings(), loaded=loaded)
    return (
        f"{summary}. Staff logins: manager/manager-pass (PIN 2468), "
        "cashier/cashier-pass (PIN 1111)."
    )


def _history(engine: Engine, *, settings: Settings, loaded: _Loaded) -> str:
    """Live a month of the demo shop over its own API, served in this process."""
    with warnings.catch_warnings():
        # Starlette's test client works with httpx as installed; its notice is not for users.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    # The app (and the routes, schemas and Alembic it loads) only for the month lived over
    # it: `demo-data --no-history` starts without them.
    from sync_server.main import create_app

    def token(user_id: int) -> str:
        return issue_access_token(
            secret=settings.resolved_secret_key,
            user_id=user_id,
            tenant_id=loaded.tenant_id,
            minutes=30,
        )[0]

    main, second = loaded.branch_ids
    admin = token(loaded.admin_id)
    # What the counters sell: the first three products are left low or out at the main store.
    counter = loaded.products[3:]
    app = create_app(settings, engine=engine, background=[])
    with TestClient(app, base_url="http://demo.invalid") as http:
        api = DemoApi(http)
        pushed = 0
        for branch, name, prefix, cashiers, seed, per_day in (
            (main, "Counter 1", "AND-C1", ["cashier", "manager"], 7, (3, 7)),
            (second, "Counter 1", "BAN-C1", ["cashier2"], 11, (1, 4)),
        ):
            device = enrol_till(api, admin_token=admin, branch_id=branch, name=name)
            pushed += push(
                api,
                device=device,
                events=till_month(
                    products=counter,
                    branch_id=branch,
                    cashier_ids=[loaded.staff[c] for c in cashiers],
                    receipt_prefix=prefix,
                    seed=seed,
                    sales_per_day=per_day,
                ),
            )
        orders = online_orders(
            api, token=admin, branch_ids=[main, second], skus=[p.sku for p in counter[::4]]
        )
        by_sku = {p.sku: p for p in loaded.products}
        buyer = token(loaded.staff["buyer"])
        purchase_cycle(
            api,
            buyer_token=buyer,
            approver_token=admin,
            supplier_id=loaded.supplier_ids[0],
            branch_id=main,
            lines=[
                (by_sku[sku].id, Decimal(qty), Decimal(cost))
                for sku, qty, cost in (("SKU-0004", "40", "136.00"), ("SKU-0005", "30", "119.00"))
            ],
        )
        # A second order waits for approval, so the dashboard has something to approve.
        submit_po(
            api,
            token=buyer,
            supplier_id=loaded.supplier_ids[0],
            branch_id=main,
            lines=[
                (by_sku["SKU-0002"].id, Decimal(20), Decimal("730.00")),
                (by_sku["SKU-0003"].id, Decimal(20), Decimal("410.00")),
            ],
        )
        transfer(
            api,
            token=admin,
            source_branch_id=main,
            destination_branch_id=second,
            lines=[(by_sku["SKU-0023"].id, Decimal(6)), (by_sku["SKU-0030"].id, Decimal(12))],
        )
    return (
        f"a month of history ({pushed} till events from 2 enrolled tills, {orders} online "
        "orders, a purchase order received, a transfer)"
    )


def demo_opening_stock(
    session: Session, *, actor: Actor, branches: list[Branch], products: list[Product]
) -> int:
    """Receive realistic opening stock; leave a few products low or out in the first branch."""
    count = 0
    for b_index, branch in enumerate(branches):
        for p_index, product in enumerate(products):
            if session.scalar(
                select(StockMovement.id).where(
                    StockMovement.tenant_id == actor.tenant_id,
                    StockMovement.branch_id == branch.id,
                    StockMovement.product_id == product.id,
                )
            ):
                continue  # already stocked: loading the demo twice changes nothing
            threshold = product.low_stock_threshold or Decimal("5")
            quantity = Decimal(30 + (p_index * 7 + b_index * 11) % 90)
            if b_index == 0 and p_index in (0, 1, 2):
                # One out of stock, two running low: the alerts screen has something to show.
                quantity = threshold + 5 if p_index == 0 else max(threshold - 2, Decimal("1"))
            cost = product.cost if product.cost > 0 else (product.price * Decimal("0.7"))
            receive(
                session,
                actor=actor,
                branch_id=branch.id,
                product_id=product.id,
                quantity=quantity,
                unit_cost=cost.quantize(COST_PLACES),
                reference_type="opening",
                reference_id=f"demo-{branch.code}",
            )
            count += 1
            if b_index == 0 and p_index == 0:
                adjust(
                    session,
                    actor=actor,
                    branch_id=branch.id,
                    product_id=product.id,
                    quantity=-quantity,
                    reason=AdjustReason.DAMAGE,
                    reference_type="opening",
                    reference_id=f"demo-{branch.code}",
                )
    return count
