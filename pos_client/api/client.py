"""Typed calls to the sync server's API over httpx; every failure becomes one ApiError."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from common.schemas.auth import MeRead, UserRead
from common.schemas.base import Page
from common.schemas.catalog import (
    CategoryRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    TemplateCreate,
    TemplateRead,
)
from common.schemas.org import BranchRead
from common.schemas.partners import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    SupplierCreate,
    SupplierRead,
    SupplierUpdate,
)
from common.sync.protocol import READ_AFTER_HEADER

M = TypeVar("M", bound=BaseModel)
Row = dict[str, Any]
Journal = Literal["sales", "returns"]
Party = Literal["customers", "suppliers"]
ReportFormat = Literal["csv", "xlsx", "pdf"]

API_PREFIX = "/api/v1"
# Reads come back in well under a second; a longer wait means the server or the link is sick.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class ApiError(Exception):
    """A refused or failed API call, carrying the server's problem document."""

    def __init__(
        self,
        detail: str,
        *,
        status: int = 0,
        title: str = "Problem",
        type_: str = "about:blank",
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title
        self.type = type_
        self.problem = dict(problem or {})


class ServerUnreachable(ApiError):
    """The server did not answer (down, no network, timed out)."""


def _jsonable(value: Any) -> Any:
    """Turn Decimals into strings so money never passes through float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in values.items() if v is not None and v != ""}


class ApiClient:
    """A logged-in session with the sync server; safe to share between network threads."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX, timeout=timeout, transport=transport
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        # The last write's WAL position: reads wait for a read replica to reach it.
        self._read_after: str | None = None
        self.me: MeRead | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- plumbing -------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; raise ApiError for problems and ServerUnreachable for silence."""
        headers = dict(headers or {})
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._read_after:
            headers[READ_AFTER_HEADER] = self._read_after
        try:
            response = self._http.request(
                method,
                path,
                params=_params(params or {}),
                json=_jsonable(json) if json is not None else None,
                headers=headers,
            )
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                "The server took too long to answer.", title="Server unreachable"
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"The server at {self.base_url} cannot be reached.", title="Server unreachable"
            ) from exc
        written = response.headers.get(READ_AFTER_HEADER)
        if written:
            self._read_after = written  # a screen's next read sees what it just saved
        if response.status_code >= 400:
            raise self._problem(response)
        return response

    @staticmethod
    def _problem(response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        detail = str(body.get("detail") or response.reason_phrase or "The request failed.")
        errors = body.get("errors") or []
        if errors and isinstance(errors, list):
            fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors[:5])
            detail = f"{detail} ({fields})"
        return ApiError(
            detail,
            status=response.status_code,
            title=str(body.get("title") or "Problem"),
            type_=str(body.get("type") or "about:blank"),
            problem=body,
        )

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json: Any = None, *, headers: Mapping[str, str] | None = None) -> Any:
        """POST and return the JSON answer (None for an empty one)."""
        body = json if json is not None else {}
        response = self.request("POST", path, json=body, headers=headers)
        return response.json() if response.content else None

    def patch(self, path: str, json: Any) -> Any:
        """PATCH and return the JSON answer."""
        return self.request("PATCH", path, json=json).json()

    def put(self, path: str, json: Any) -> Any:
        """PUT and return the JSON answer."""
        return self.request("PUT", path, json=json).json()

    def _page(self, model: type[M], path: str, **params: Any) -> Page[M]:
        return Page[model].model_validate(self.get(path, **params))  # type: ignore[valid-type]

    # --- auth -----------------------------------------------------------------------
    def login(self, *, username: str, password: str) -> MeRead:
        """Sign in and load who we are, with the permissions the screens are built from."""
        token = self.post("/auth/login", {"username": username, "password": password})
        with self._lock:
            self._token = token["access_token"]
        self.me = MeRead.model_validate(self.get("/auth/me"))
        return self.me

    def health(self) -> Row:
        """Ask the server whether it is up."""
        return self.get("/health")

    # --- catalog --------------------------------------------------------------------
    def products(self, **filters: Any) -> Page[ProductRead]:
        """List products (q, category_id, supplier_id, active, limit, offset, sort)."""
        return self._page(ProductRead, "/products", **filters)

    def product(self, product_id: int) -> ProductRead:
        """Fetch one product."""
        return ProductRead.model_validate(self.get(f"/products/{product_id}"))

    def create_product(self, data: ProductCreate) -> ProductRead:
        """Create a product."""
        body = data.model_dump(mode="json", exclude_defaults=False)
        for key in ("packs", "purchase_unit", "purchase_units_per"):
            # Sent only when given: a server from before packs refuses fields it lacks.
            if key not in data.model_fields_set:
                body.pop(key, None)
        return ProductRead.model_validate(self.post("/products", body))

    def update_product(self, product_id: int, data: ProductUpdate) -> ProductRead:
        """Change a product (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return ProductRead.model_validate(self.patch(f"/products/{product_id}", body))

    def create_template(self, data: TemplateCreate) -> TemplateRead:
        """Create a product template and its variants."""
        body = data.model_dump(mode="json")
        return TemplateRead.model_validate(self.post("/product-templates", body))

    def create_category(self, *, name: str) -> CategoryRead:
        """Create a category."""
        return CategoryRead.model_validate(self.post("/categories", {"name": name}))

    def categories(self) -> list[CategoryRead]:
        """List all categories."""
        page = self._page(CategoryRead, "/categories", limit=500)
        return page.items

    # --- partners -------------------------------------------------------------------
    def suppliers(self, **filters: Any) -> Page[SupplierRead]:
        """List suppliers."""
        return self._page(SupplierRead, "/suppliers", **filters)

    def create_supplier(self, data: SupplierCreate) -> SupplierRead:
        """Create a supplier."""
        return SupplierRead.model_validate(self.post("/suppliers", data.model_dump(mode="json")))

    def update_supplier(self, supplier_id: int, data: SupplierUpdate) -> SupplierRead:
        """Change a supplier (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return SupplierRead.model_validate(self.patch(f"/suppliers/{supplier_id}", body))

    def customers(self, **filters: Any) -> Page[CustomerRead]:
        """List customers (q, with_balance, limit, offset)."""
        return self._page(CustomerRead, "/customers", **filters)

    def customer(self, customer_id: int) -> CustomerRead:
        """Fetch one customer."""
        return CustomerRead.model_validate(self.get(f"/customers/{customer_id}"))

    def create_customer(self, data: CustomerCreate) -> CustomerRead:
        """Create a customer."""
        return CustomerRead.model_validate(self.post("/customers", data.model_dump(mode="json")))

    def update_customer(self, customer_id: int, data: CustomerUpdate) -> CustomerRead:
        """Change a customer (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return CustomerRead.model_validate(self.patch(f"/customers/{customer_id}", body))

    def set_sms_opt_in(self, customer_id: int, *, agreed: bool) -> None:
        """Record (or withdraw) a customer's consent to text messages."""
        path = f"/customers/{customer_id}/sms-opt-in"
        if agreed:
            self.put(path, {})
        else:
            self.request("DELETE", path)

    def statement_pdf(self, party: Party, party_id: int, *, start: date, end: date) -> bytes:
        """Return a customer's or supplier's statement of account for a period as a PDF."""
        params = {"from": start.isoformat(), "to": end.isoformat(), "format": "pdf"}
        return self.request("GET", f"/{party}/{party_id}/statement", params=params).content

    def customer_account(self, customer_id: int) -> Row:
        """Return a customer's credit account summary."""
        return self.get(f"/customers/{customer_id}/account")

    def credit_history(self, customer_id: int) -> Any:
        """Return a customer's credit ledger."""
        return self.get(f"/customers/{customer_id}/credit-history")

    def record_payment(
        self, customer_id: int, *, amount: Decimal, method: str = "cash", reference: str = ""
    ) -> Row:
        """Record a payment against a customer's account."""
        body = {"amount": amount, "method": method, "reference": reference}
        return self.post(f"/customers/{customer_id}/payments", body)

    # --- stock ----------------------------------------------------------------------
    def stock_levels(self, **filters: Any) -> Page[Row]:
        """List stock levels (branch_id, status, q, limit, offset)."""
        return Page[Row].model_validate(self.get("/stock/levels", **filters))

    def movements(self, **filters: Any) -> Page[Row]:
        """List stock movements (product_id, branch_id, limit, offset)."""
        return Page[Row].model_validate(self.get("/stock/movements", **filters))

    def adjust_stock(
        self,
        *,
        branch_id: int,
        product_id: int,
        quantity: Decimal,
        reason: str,
        reference: str = "",
    ) -> Row:
        """Record a manual adjustment with a reason."""
        body = {
            "branch_id": branch_id,
            "product_id": product_id,
            "quantity": quantity,
            "reason": reason,
            "reference": reference,
        }
        return self.post("/stock/adjustments", body)

    def receive_stock(self, *, branch_id: int, lines: list[Row], reference: str = "") -> Row:
        """Receive goods without a purchase order (lines: product_id, quantity, unit_cost)."""
        body = {"branch_id": branch_id, "reference": reference, "lines": lines}
        return self.post("/stock/receipts", body)

    def incoming_stock(self, *, branch_id: int) -> list[Row]:
        """Return what is on order for a branch, per product."""
        return self.get("/stock/incoming", branch_id=branch_id)

    def start_count(self, *, branch_id: int, category_id: int | None = None) -> Row:
        """Open a stock count at a branch (of one category, or all)."""
        return self.post("/counts", {"branch_id": branch_id, "category_id": category_id})

    def count_scan(self, count_id: int, *, barcode: str, quantity: Decimal | None = None) -> Row:
        """Count the product with this barcode: one, or the quantity given."""
        body: Row = {"barcode": barcode}
        if quantity is not None:
            body["quantity"] = quantity
        return self.post(f"/counts/{count_id}/lines", body)

    def set_count_line(self, count_id: int, *, product_id: int, quantity: Decimal) -> Row:
        """Set how many of a product a count found (replacing what was entered)."""
        body = {"product_id": product_id, "quantity": quantity, "replace": True}
        return self.post(f"/counts/{count_id}/lines", body)

    def remove_count_line(self, count_id: int, *, product_id: int) -> Row:
        """Take a product off an open count, as if never counted."""
        return self.request("DELETE", f"/counts/{count_id}/lines/{product_id}").json()

    def stock_count(self, count_id: int) -> Row:
        """Review a count: counted, expected and difference per line."""
        return self.get(f"/counts/{count_id}")

    def count_uncounted(self, count_id: int) -> Row:
        """Return what posting with zero_uncounted would set to zero (scope, lines)."""
        return self.get(f"/counts/{count_id}/uncounted")

    def post_count(self, count_id: int, *, zero_uncounted: bool = False) -> Row:
        """Post a count: differences become count movements (optionally zeroing the rest)."""
        return self.post(f"/counts/{count_id}/post", {"zero_uncounted": zero_uncounted})

    def transfers(self, **filters: Any) -> Page[Row]:
        """List transfers between branches."""
        return Page[Row].model_validate(self.get("/transfers", **filters))

    def create_transfer(
        self, *, source_branch_id: int, destination_branch_id: int, lines: list[Row], note: str = ""
    ) -> Row:
        """Create a transfer."""
        body = {
            "source_branch_id": source_branch_id,
            "destination_branch_id": destination_branch_id,
            "lines": lines,
            "note": note,
        }
        return self.post("/transfers", body)

    def transfer(self, transfer_id: int) -> Row:
        """Fetch one transfer with its lines."""
        return self.get(f"/transfers/{transfer_id}")

    def receive_transfer(self, transfer_id: int, *, lines: list[Row], close: bool = False) -> Row:
        """Book what arrived of a transfer; close records what did not as a discrepancy."""
        return self.post(f"/transfers/{transfer_id}/receive", {"lines": lines, "close": close})

    def transfer_action(self, transfer_id: int, action: str) -> Row:
        """Dispatch or receive a transfer."""
        return self.post(f"/transfers/{transfer_id}/{action}", {})

    # --- purchasing -----------------------------------------------------------------
    def purchase_orders(self, **filters: Any) -> Page[Row]:
        """List purchase orders (status, supplier_id, branch_id, limit, offset)."""
        return Page[Row].model_validate(self.get("/purchase-orders", **filters))

    def purchase_order(self, po_id: int) -> Row:
        """Fetch one purchase order with its lines."""
        return self.get(f"/purchase-orders/{po_id}")

    def create_purchase_order(
        self, *, supplier_id: int, branch_id: int, lines: list[Row], notes: str = ""
    ) -> Row:
        """Create a draft purchase order."""
        body = {"supplier_id": supplier_id, "branch_id": branch_id, "lines": lines, "notes": notes}
        return self.post("/purchase-orders", body)

    def po_action(self, po_id: int, action: str, *, comment: str | None = None) -> Row:
        """Submit, approve, reject (with a comment), cancel or close a purchase order."""
        body = {"comment": comment} if comment is not None else {}
        return self.post(f"/purchase-orders/{po_id}/{action}", body)

    def receive_purchase_order(self, po_id: int, *, lines: list[Row], note: str = "") -> Row:
        """Receive goods against a purchase order (partial receipts allowed)."""
        return self.post(f"/purchase-orders/{po_id}/receipts", {"lines": lines, "note": note})

    def purchase_order_receipts(self, po_id: int) -> list[Row]:
        """List the goods receipts of a purchase order, oldest first."""
        return self.get(f"/purchase-orders/{po_id}/receipts")

    def send_purchase_order(self, po_id: int) -> Row:
        """Send an approved purchase order to its supplier (e-mailed with its PDF)."""
        return self.post(f"/purchase-orders/{po_id}/send", {})

    def purchase_order_pdf(self, po_id: int) -> bytes:
        """Return a purchase order as the PDF its supplier gets."""
        return self.request("GET", f"/purchase-orders/{po_id}/pdf").content

    def purchase_order_emails(self, po_id: int) -> Row:
        """Return the e-mails about a purchase order with their delivery state, and whether
        the server can send e-mail at all (email_configured)."""
        return self.get(f"/purchase-orders/{po_id}/emails")

    def tax_classes(self) -> list[Row]:
        """List the business's tax classes."""
        return self.get("/tax-classes")

    def starting_costs(self, supplier_id: int, product_ids: list[int]) -> dict[int, Row]:
        """Return, per product, the cost a new PO line starts from (per base unit) and why."""
        rows = self.get(f"/suppliers/{supplier_id}/starting-costs", product_id=product_ids)
        return {row["product_id"]: row for row in rows}

    def set_supplier_price(self, supplier_id: int, product_id: int, *, unit_cost: Decimal) -> Row:
        """Record what a supplier charges for one base unit of a product."""
        body = {"unit_cost": str(unit_cost)}
        return self.put(f"/suppliers/{supplier_id}/prices/{product_id}", body)

    def confirm_purchase_order(self, po_id: int, *, delivery_date: date, lines: list[Row]) -> Row:
        """Record what the supplier confirmed (quantities per line) and when it will deliver."""
        body = {"delivery_date": delivery_date.isoformat(), "lines": lines}
        return self.post(f"/purchase-orders/{po_id}/confirm", body)

    def ship_purchase_order(
        self, po_id: int, *, carrier: str, tracking_number: str, expected_arrival: date
    ) -> Row:
        """Record the supplier's shipment of a purchase order."""
        body = {
            "carrier": carrier,
            "tracking_number": tracking_number,
            "expected_arrival": expected_arrival.isoformat(),
        }
        return self.post(f"/purchase-orders/{po_id}/ship", body)

    def reorder_suggestions(self, *, branch_id: int, method: str | None = None) -> Row:
        """Suggest what to reorder at a branch, grouped by supplier."""
        params: dict[str, Any] = {"branch_id": branch_id}
        if method is not None:
            params["method"] = method
        return self.get("/reorder-suggestions", **params)

    def draft_reorders(
        self, *, branch_id: int, supplier_ids: list[int], method: str | None = None
    ) -> list[Row]:
        """Turn reorder suggestions into draft purchase orders, one per supplier."""
        body: Row = {"branch_id": branch_id, "supplier_ids": supplier_ids}
        if method is not None:
            body["method"] = method
        return self.post("/reorder-suggestions/purchase-orders", body)

    def supplier_account(self, supplier_id: int) -> Row:
        """Return what the shop owes a vendor."""
        return self.get(f"/suppliers/{supplier_id}/account")

    def pay_supplier(
        self, supplier_id: int, *, amount: Decimal, method: str = "bank", reference: str = ""
    ) -> Row:
        """Record a payment made to a vendor."""
        body = {"amount": amount, "method": method, "reference": reference}
        return self.post(f"/suppliers/{supplier_id}/payments", body)

    # --- sales ----------------------------------------------------------------------
    def sales_requests(self, **filters: Any) -> Page[Row]:
        """List wholesale sales requests."""
        return Page[Row].model_validate(self.get("/sales-requests", **filters))

    def sales_request_action(
        self, request_id: int, action: str, *, comment: str | None = None
    ) -> Row:
        """Approve, reject (with a comment) or cancel a sales request."""
        body = {"comment": comment} if comment is not None else {}
        return self.post(f"/sales-requests/{request_id}/{action}", body)

    def journal(self, kind: Journal, **filters: Any) -> Page[Row]:
        """List till sales or returns (q, branch_id, date_from, reason, limit, offset)."""
        return Page[Row].model_validate(self.get(f"/{kind}", **filters))

    def journal_entry(self, kind: Journal, document_id: int) -> Row:
        """Fetch one till sale or return with its lines and tenders."""
        return self.get(f"/{kind}/{document_id}")

    def order(self, order_id: int) -> Row:
        """Fetch one online order with its lines and steps."""
        return self.get(f"/orders/{order_id}")

    def ship_order(self, order_id: int, *, carrier: str, tracking_number: str) -> Row:
        """Record an online order's shipment."""
        body = {"carrier": carrier, "tracking_number": tracking_number}
        return self.post(f"/orders/{order_id}/shipment", body)

    def picking_list_pdf(self, *, branch_id: int) -> bytes:
        """Return a branch's picking list of open online orders as a PDF."""
        return self.request("GET", f"/picking-lists/{branch_id}/pdf").content

    def orders(self, **filters: Any) -> Page[Row]:
        """List online orders."""
        return Page[Row].model_validate(self.get("/orders", **filters))

    def order_action(self, order_id: int, action: str, body: Row | None = None) -> Row:
        """Move an online order on: picking, packed, shipment, delivered or cancel."""
        return self.post(f"/orders/{order_id}/{action}", body or {})

    # --- alerts, audit, reports -----------------------------------------------------
    def alerts(self, **filters: Any) -> Page[Row]:
        """List alerts (kind, status, branch_id)."""
        return Page[Row].model_validate(self.get("/alerts", **filters))

    def acknowledge_alert(self, alert_id: int) -> Row:
        """Acknowledge an alert."""
        return self.post(f"/alerts/{alert_id}/acknowledge", {})

    def promotions(self, **filters: Any) -> Page[Row]:
        """List promotions (active=true: only the live ones)."""
        return Page[Row].model_validate(self.get("/promotions", **filters))

    def create_promotion(self, body: Row) -> Row:
        """Create or schedule a promotion."""
        return self.post("/promotions", body)

    def end_promotion(self, promotion_id: int) -> Row:
        """End a promotion now."""
        return self.post(f"/promotions/{promotion_id}/end", {})

    def price_lists(self, **filters: Any) -> Page[Row]:
        """List price lists (active=true: only the live ones)."""
        return Page[Row].model_validate(self.get("/price-lists", **filters))

    def preview_prices(self, body: Row) -> Row:
        """Price a cart without selling it ("what would this cart cost")."""
        return self.post("/pricing/preview", body)

    def notifications(self, **filters: Any) -> Page[Row]:
        """List my notifications."""
        return Page[Row].model_validate(self.get("/notifications", **filters))

    def audit(self, **filters: Any) -> Page[Row]:
        """List audit entries (action, actor, entity_type, since, until)."""
        return Page[Row].model_validate(self.get("/audit", **filters))

    def verify_audit(self) -> Row:
        """Verify the tenant's audit hash chain."""
        return self.get("/audit/verify")

    def report(self, name: str, **filters: Any) -> Row:
        """Run a report (rows + columns) from /reports/<name>."""
        return self.get(f"/reports/{name}", **filters)

    def report_file(self, name: str, *, fmt: ReportFormat, **filters: Any) -> bytes:
        """Return a report exported by the server as CSV, XLSX or PDF bytes."""
        params = {**filters, "format": fmt}
        return self.request("GET", f"/reports/{name}", params=params).content

    # --- admin ----------------------------------------------------------------------
    def branches(self, **filters: Any) -> Page[BranchRead]:
        """List branches."""
        return self._page(BranchRead, "/branches", **filters)

    def users(self, **filters: Any) -> Page[UserRead]:
        """List users."""
        return self._page(UserRead, "/users", **filters)

    def devices(self, **filters: Any) -> Page[Row]:
        """List enrolled tills."""
        return Page[Row].model_validate(self.get("/devices", **filters))

    def api_keys(self, **filters: Any) -> Page[Row]:
        """List API keys."""
        return Page[Row].model_validate(self.get("/api-keys", **filters))

    def create_user(self, body: Row) -> Row:
        """Create a user (username, role, branches, password, optional PIN)."""
        return self.post("/users", body)

    def update_user(self, user_id: int, changes: Row) -> Row:
        """Change a user: only the fields given."""
        return self.patch(f"/users/{user_id}", changes)

    def create_branch(self, body: Row) -> Row:
        """Create a branch."""
        return self.post("/branches", body)

    def update_branch(self, branch_id: int, changes: Row) -> Row:
        """Change a branch: only the fields given."""
        return self.patch(f"/branches/{branch_id}", changes)

    def create_api_key(self, *, name: str, scopes: list[str], branch_ids: list[int]) -> Row:
        """Create an API key; the answer carries its secret, shown once."""
        body = {"name": name, "scopes": scopes, "branch_ids": branch_ids}
        return self.post("/api-keys", body)

    def revoke_api_key(self, key_id: int) -> Row:
        """Revoke an API key at once."""
        return self.post(f"/api-keys/{key_id}/revoke", {})

    def enrolment_code(self, *, branch_id: int) -> Row:
        """Issue a one-time code that enrols a new till at a branch."""
        return self.post("/devices/enrolment-codes", {"branch_id": branch_id})

    def rename_device(self, device_id: int, *, name: str) -> Row:
        """Rename an enrolled till."""
        return self.patch(f"/devices/{device_id}", {"name": name})

    def revoke_device(self, device_id: int) -> Row:
        """Revoke a till: its sync stops at once."""
        return self.post(f"/devices/{device_id}/revoke", {})

    def settings(self) -> Row:
        """Return the tenant's settings."""
        return self.get("/settings")

    def put_setting(self, key: str, value: Any) -> Row:
        """Change one tenant setting."""
        return self.put(f"/settings/{key}", {"value": value})
