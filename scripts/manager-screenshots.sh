#!/usr/bin/env bash
# Render each main back-office screen (and its documents, typed settings, count review and
# product import) offscreen into screenshots/manager-*.png, against a real
# sync server (SQLite in a temporary folder, uvicorn on 127.0.0.1) seeded over its own API.
#   usage: scripts/manager-screenshots.sh [OUTPUT_DIR]      (default: screenshots/)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-screenshots}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-.venv/bin/python}"
QT_QPA_PLATFORM=offscreen "$PYTHON" - "$OUT" <<'PY'
import atexit
import shutil
import socket
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from PySide6.QtWidgets import QApplication

from sqlalchemy import text

from common.barcodes import make_ean13
from common.money import round_money
from pos_client.api.client import ApiClient
from pos_client.ui.manager.purchasing_dialogs import SendDialog
from pos_client.ui.manager.style import manager_stylesheet
from pos_client.ui.manager.widgets import SearchBox
from pos_client.ui.manager.window import open_back_office
from sync_server.config import Settings
from sync_server.db import make_engine
from sync_server.demo_history import DemoApi, DemoProduct, enrol_till, push, till_month
from sync_server.main import create_app
from sync_server.migrations.runner import upgrade
from sync_server.notifications.dispatcher import dispatch_due
from tests.factories import PASSWORD, build_world

class Sink:
    """Accept every message (the supplier's inbox)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        return "250 OK"


out = Path(sys.argv[1])
data = Path(tempfile.mkdtemp(prefix="manager-shots-"))
atexit.register(shutil.rmtree, data, ignore_errors=True)  # leave no temporary folder behind
url = f"sqlite:///{data / 'server.db'}"
engine = make_engine(url)
upgrade(engine)
world = build_world(engine, None)
with engine.begin() as connection:  # the test world's tenant, named like a real shop
    connection.execute(text("UPDATE tenants SET name = 'Sharma General Store' WHERE id = :id"),
                       {"id": world.a.id})
# A real SMTP server on loopback, so a PO sent to its supplier shows its e-mail delivered.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    mail_port = s.getsockname()[1]
mailbox = Controller(Sink(), hostname="127.0.0.1", port=mail_port)
mailbox.start()
atexit.register(mailbox.stop)
settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                    smtp_from="buying@sharma.example.in")
app = create_app(settings, engine=engine)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.02)
base = f"http://127.0.0.1:{port}"


def client(username: str) -> ApiClient:
    api = ApiClient(base)
    api.login(username=username, password=PASSWORD)
    return api


COST_SHARE = Decimal("0.8")  # what the shop pays for goods, as a share of the shelf price
# Seed a believable shop over the API, as its staff would.
admin, manager, sales = client("admin"), client("manager"), client("sales_admin")
main, west = world.a.branch_ids
admin.patch(f"/branches/{main}", {"name": "Indiranagar"})
admin.patch(f"/branches/{west}", {"name": "Jayanagar"})
admin.patch(f"/users/{world.a.users['admin']}", {"full_name": "Priya Sharma"})
supplier = admin.post("/suppliers", {"name": "Hindustan Distributors", "contact_name": "R. Mehta",
                                     "phone": "+91 80 4123 9876", "payment_terms_days": 30,
                                     "email": "orders@hindustan.example.in"})
gst5 = admin.post("/tax-classes", {"code": "GST5", "name": "GST 5%", "rates": [{"gst_rate": "5"}]})
admin.post("/suppliers", {"name": "Tata Consumer Products", "phone": "+91 22 6665 8282"})
catalog = [
    ("TEA-GOLD-500", "Tata Tea Gold 500 g", "285.00", "5"),
    ("ATTA-5KG", "Aashirvaad Atta 5 kg", "265.00", "8"),
    ("DAL-TOOR-1", "Toor Dal 1 kg", "165.00", "10"),
    ("RICE-BAS-5", "India Gate Basmati 5 kg", "720.00", "4"),
    ("OIL-SUN-1", "Fortune Sunflower Oil 1 l", "155.00", "12"),
    ("SUGAR-1", "Sugar 1 kg", "48.00", "20"),
    ("SALT-1", "Tata Salt 1 kg", "28.00", "15"),
    ("BISC-PARLE", "Parle-G 800 g", "90.00", "10"),
    ("SOAP-LUX", "Lux Soap 4x100 g", "160.00", "6"),
    ("MILK-PWD", "Amul Milk Powder 500 g", "235.00", "5"),
]
ids = {}
for i, (sku, name, price, low) in enumerate(catalog):
    product = admin.post("/products", {"sku": sku, "name": name, "price": price,
                                       "cost": str(round_money(Decimal(price) * COST_SHARE)),
                                       "low_stock_threshold": low, "supplier_id": supplier["id"],
                                       "barcodes": [make_ean13(f"890{1000000 + i:09d}")]})
    ids[sku] = product["id"]
    # Main also holds what the counter sells over the month the till pushes below.
    for branch, qty in ((main, 45 + [40, 3, 25, 0, 60, 80, 2, 30, 12, 9][i]), (west, 15 + i)):
        if qty:
            admin.post("/stock/adjustments", {"branch_id": branch, "product_id": product["id"],
                                              "quantity": str(qty), "reason": "found"})
admin.post("/stock/adjustments", {"branch_id": main, "product_id": ids["SUGAR-1"],
                                  "quantity": "-76", "reason": "damage"})
customers = [admin.post("/customers", {"name": name, "phone": phone, "credit_limit": limit})
             for name, phone, limit in (("Gupta Traders", "+91 98450 11223", "50000"),
                                        ("Hotel Annapoorna", "+91 99000 44556", "80000"),
                                        ("Sri Sai Kirana", "+91 97400 77889", "20000"))]
for n, customer in enumerate(customers):
    for m in range(2):
        request = sales.post("/sales-requests", {
            "customer_id": customer["id"], "branch_id": main, "payment_terms": "account",
            "lines": [{"product_id": ids[catalog[(0, 2, 4, 8)[(n + m) % 4]][0]],
                       "quantity": str(3 + n + m)},
                      {"product_id": ids["BISC-PARLE"], "quantity": "2"}]})
        if m == 0 or n == 0:
            manager.post(f"/sales-requests/{request['id']}/approve", {})
manager.post(f"/customers/{customers[0]['id']}/payments", {"amount": "500.00", "method": "upi"})
for sku in ("ATTA-5KG", "RICE-BAS-5"):
    admin.patch(f"/products/{ids[sku]}", {"tax_class_id": gst5["id"]})
po = manager.post("/purchase-orders", {"supplier_id": supplier["id"], "branch_id": main, "lines": [
    {"product_id": ids["ATTA-5KG"], "quantity": "20", "unit_cost": "210.00",
     "tax_class_id": gst5["id"]},
    {"product_id": ids["RICE-BAS-5"], "quantity": "10", "unit_cost": "590.00",
     "tax_class_id": gst5["id"]}]})
manager.post(f"/purchase-orders/{po['id']}/submit", {})
po2 = manager.post("/purchase-orders", {"supplier_id": supplier["id"], "branch_id": main, "lines": [
    {"product_id": ids["SALT-1"], "quantity": "50", "unit_cost": "22.00"}]})
manager.post(f"/purchase-orders/{po2['id']}/submit", {})
admin.post(f"/purchase-orders/{po2['id']}/approve", {})
# Salt is bought in bags of 25 from now on, at the supplier's price per kilo packet.
admin.patch(f"/products/{ids['SALT-1']}", {"purchase_unit": "bag", "purchase_units_per": "25"})
admin.set_supplier_price(supplier["id"], ids["SALT-1"], unit_cost=Decimal("21.50"))
# Online orders, paid (so the dashboard's charts have sales to show).
for n in range(12):
    branch = main if n % 3 else west
    picks = [("TEA-GOLD-500", 1 + n % 3), ("OIL-SUN-1", 1 + n % 2), ("DAL-TOOR-1", 1)][: 1 + n % 3]
    order = admin.post("/orders", {
        "external_number": f"WEB-{1000 + n}", "branch_id": branch,
        "customer": {"name": f"Online shopper {n}", "email": f"shopper{n}@example.in"},
        "lines": [{"sku": sku, "quantity": str(qty)} for sku, qty in picks]},
        headers={"Idempotency-Key": f"screenshot-order-{n}"})
    if n % 4:
        admin.post(f"/orders/{order['id']}/payment", {"amount": order["total"]})

# A till at the main branch pushes a month of shifts, counter sales and a return through sync
# (the same history the README's demo has: sync_server/demo_history.py).
http = httpx.Client(base_url=base)
api = DemoApi(http)
login = http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()
till = enrol_till(api, admin_token=login["access_token"], branch_id=main, name="Counter 1")
push(api, device=till, events=till_month(
    products=[DemoProduct(id=ids[sku], sku=sku, name=name, price=Decimal(price))
              for sku, name, price, _ in catalog],
    branch_id=main, receipt_prefix="IND-C1", sales_per_day=(2, 5),
    cashier_ids=[world.a.users["cashier"], world.a.users["manager"]]))

qt = QApplication([])
qt.setStyleSheet(manager_stylesheet())
window = open_back_office(client=client("admin"), username="admin", password=PASSWORD)
window.resize(1366, 768)
window.show()


def settle(quiet: float = 0.1) -> None:
    """Let the screen's server calls answer and paint: until no call is out, no search box is
    waiting out its pause (250 ms) before it asks the server, and neither changed for `quiet` s.
    """
    boxes = [w for w in qt.allWidgets() if isinstance(w, SearchBox)]
    give_up = time.monotonic() + 15
    idle_since = time.monotonic()
    while time.monotonic() < give_up:
        qt.processEvents()
        now = time.monotonic()
        if window.ctx.pool.pending or any(box.waiting() for box in boxes):
            idle_since = now
        elif now - idle_since >= quiet:
            return
        time.sleep(0.02)


for key in ("dashboard", "products", "stock", "purchasing", "sales", "customers", "reports",
            "alerts", "audit", "admin"):
    page = window.open_screen(key)
    if key == "stock":
        page.branch.setCurrentIndex(page.branch.findData(main))
    if key == "audit":
        page.verify()
    settle()
    path = out / f"manager-{key}.png"
    window.grab().save(str(path))
    print(path)


def shoot(name: str, widget) -> None:
    settle()
    path = out / f"manager-{name}.png"
    widget.grab().save(str(path))
    print(path)


def tab(page, label: str) -> None:
    page.tabs.setCurrentIndex([page.tabs.tabText(i) for i in range(page.tabs.count())].index(label))


# The tabs and forms added to the main screens, each as a manager first meets it.
sales_page = window.open_screen("sales")
for label, name in (("Till sales", "sales-journal"), ("Returns", "sales-returns"),
                    ("Online orders", "sales-orders")):
    tab(sales_page, label)
    shoot(name, window)
sales_page.orders.view.selectRow(0)
sales_page.show_order()
settle()
shoot("order-detail", sales_page.dialog)
sales_page.dialog.close()
tab(sales_page, "Till sales")
settle()
sales_page.sales.view.selectRow(0)
sales_page.sales_tab.show_details()
settle()
shoot("sale-detail", sales_page.sales_tab.dialog)
sales_page.sales_tab.dialog.close()
purchasing = window.open_screen("purchasing")
tab(purchasing, "Suppliers")
shoot("suppliers", window)
tab(purchasing, "Reorder suggestions")
purchasing.reorder_method.setCurrentIndex(purchasing.reorder_method.findData("forecast"))
purchasing.suggest()
shoot("reorder", window)
products = window.open_screen("products")
settle()
products.table.view.selectRow(0)
products.print_labels()
settle()
shoot("labels-dialog", products.dialog)
products.dialog.close()
admin_page = window.open_screen("admin")
tab(admin_page, "Users")
settle()
admin_page.new_user()
settle()
shoot("new-user", admin_page.dialog)
admin_page.dialog.close()
# Documents with lines: a PO as the approver sees it, the line editor, transfers and a count.
tab(purchasing, "Purchase orders")
settle()
purchasing.orders.view.selectRow(
    next(i for i, r in enumerate(purchasing.orders.model.rows) if r.id == po["id"]))
purchasing.show_po()
settle()
shoot("po-detail", purchasing.dialog)
purchasing.dialog.close()
purchasing.new_po()
settle()
for sku in ("ATTA-5KG", "RICE-BAS-5", "SALT-1"):
    purchasing.dialog.lines.add(admin.product(ids[sku]))
purchasing.dialog.lines.set_line(0, quantity="20", cost="210.00")
shoot("po-new", purchasing.dialog)
purchasing.dialog.close()
# The approved PO sent to its supplier: the question, then the e-mail delivered and the PDF.
purchasing.orders.reload()
settle()
purchasing.orders.view.selectRow(
    next(i for i, r in enumerate(purchasing.orders.model.rows) if r.id == po2["id"]))
purchasing.send_po()
settle()
shoot("po-send", purchasing.dialog)
purchasing.dialog.submit()
settle()
dispatch_due(engine, settings=settings)
purchasing.orders.view.selectRow(
    next(i for i, r in enumerate(purchasing.orders.model.rows) if r.id == po2["id"]))
purchasing.show_po()
settle()
shoot("po-detail-sent", purchasing.dialog)
purchasing.dialog.tabs.setCurrentIndex(1)
shoot("po-detail-emails", purchasing.dialog)
purchasing.dialog.tabs.setCurrentIndex(2)
shoot("po-detail-pdf", purchasing.dialog)
purchasing.dialog.close()
# A server with no mail server: the question says so, and there is no Send.
purchasing.dialog = SendDialog(ctx=window.ctx, po=admin.purchase_order(po2["id"]).model_copy(update={"status": "approved"}),
                               supplier=next(x for x in purchasing.suppliers if x.id == supplier["id"]),
                               email_configured=False,
                               parent=purchasing)
shoot("po-send-no-mail", purchasing.dialog)
purchasing.dialog.close()
stock_page = window.open_screen("stock")
moved = admin.create_transfer(source_branch_id=main, destination_branch_id=west, lines=[
    {"product_id": ids["TEA-GOLD-500"], "quantity": "6"},
    {"product_id": ids["OIL-SUN-1"], "quantity": "12"},
    {"product_id": ids["BISC-PARLE"], "quantity": "10"}])
admin.transfer_action(moved.id, "dispatch")
stock_page.new_transfer()
for sku in ("TEA-GOLD-500", "OIL-SUN-1"):
    stock_page.dialog.add(admin.product(ids[sku]))
shoot("transfer-new", stock_page.dialog)
stock_page.dialog.close()
tab(stock_page, "Transfers")
settle()
stock_page.transfers.view.selectRow(
    next(i for i, r in enumerate(stock_page.transfers.model.rows) if r.id == moved.id))
stock_page.receive_transfer()
settle()
stock_page.dialog.set_arrived(1, "11")
stock_page.dialog.close_box.setChecked(True)
shoot("transfer-receive", stock_page.dialog)
stock_page.dialog.close()
tab(stock_page, "Levels")
stock_page.start_count()
settle()
count = stock_page.dialog
for i, found in ((0, "52"), (2, "70"), (6, "40")):
    count.quantity.setText(found)
    count.scan.setText(make_ean13(f"890{1000000 + i:09d}"))
    count.scanned()
    settle()
shoot("count", count)
count.ask_post()
settle()
shoot("count-review", count.review)
count.review.zero_box.setChecked(True)  # "set uncounted items in this scope to zero"
settle()
shoot("count-review-zero", count.review)
count.review.close()
count.close()
# Admin → Settings as a typed form, and a value refused in red under its setting.
admin_page = window.open_screen("admin")
tab(admin_page, "Settings")
settle()
shoot("settings", window)
admin_page.settings.fields["till_max_discount_percent"].editor.setText("150")
admin_page.settings.save()
settle()
shoot("settings-refused", window)
admin_page.settings.load()
settle()
# Products → Import: the template, a shop's own sheet with its own headers, mapped and previewed.
products = window.open_screen("products")
products.ask_template_path = lambda: data / "products-template.csv"
products.save_template()
shoot("products-template", window)
sheet = data / "shop-items.csv"
sheet.write_text(
    "Item Code,Product Name,MRP,Cost Price,GST %,Group,Opening Qty,Remarks\n"
    'GHEE-1L,Amul Ghee 1 L,"₹ 1,250.00","₹1,080",12,Dairy,24,\n'
    "ATTA-5KG,Aashirvaad Atta 5 kg,Rs. 289,,5,Staples,,price change\n"
    'JAGGERY-1,Organic Jaggery 1 kg,"1,20",95,0,Staples,10,\n'
    'POHA-500,Poha 500 g,₹48,₹36,5,Staples,"1,200",\n',
    encoding="utf-8",
)
products.ask_import_path = lambda: sheet
products.import_sheet()
shoot("import-preview", products.dialog)
products.dialog.start_import()
settle()
shoot("import-results", products.dialog)
products.dialog.close()
window.ctx.pool.close()
server.should_exit = True
PY
