"""Typed calls to the sync server's API over httpx; every failure becomes one ApiError."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from common.schemas.alerts import AlertRead, NotificationRead
from common.schemas.apikeys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from common.schemas.audit import AuditEntryRead, ChainReportRead
from common.schemas.auth import MeRead, TokenRead, UserCreate, UserRead, UserUpdate
from common.schemas.base import Page
from common.schemas.catalog import (
    CategoryRead,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    TemplateCreate,
    TemplateRead,
)
from common.schemas.credit import AccountRead, CreditEntryRead
from common.schemas.health import HealthRead
from common.schemas.inventory import (
    CountRead,
    IncomingRead,
    MovementRead,
    StockLevelRead,
    TransferRead,
    UncountedRead,
)
from common.schemas.orders import OrderRead
from common.schemas.org import BranchCreate, BranchRead, BranchUpdate
from common.schemas.partners import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    SupplierCreate,
    SupplierRead,
    SupplierUpdate,
)
from common.schemas.pricing import PreviewIn, PreviewRead, RuleRead
from common.schemas.purchasing import (
    POEmailsRead,
    PORead,
    ReceiptRead,
    SuggestionsRead,
    SupplierPriceRead,
    VendorAccountRead,
    VendorEntryRead,
)
from common.schemas.settings import SettingRead
from common.schemas.tax import TaxClassRead
from common.schemas.wholesale import SalesRequestRead
from common.sync.protocol import (
    READ_AFTER_HEADER,
    DeviceRead,
    EnrolmentCodeRead,
)
from common.tenant_settings import TenantSettings
from common.tls import client_context

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


class UnexpectedAnswer(ApiError):
    """The server answered, but not as this app expects (another program, another version)."""

    def __init__(self, path: str, *, expected: str) -> None:
        super().__init__(
            f"The server's answer to {path} is not what this app expects ({expected}). "
            "Check the server address, and that the server and this app are up to date.",
            title="Unexpected answer from the server",
        )


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
            base_url=self.base_url + API_PREFIX,
            timeout=timeout,
            transport=transport,
            verify=client_context(),
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

    @staticmethod
    def _json(response: httpx.Response, *, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:  # a proxy's or a captive portal's HTML page, or nothing
            raise UnexpectedAnswer(path, expected="a JSON document") from exc

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document."""
        return self._json(self.request("GET", path, params=params), path=path)

    def post(self, path: str, json: Any = None, *, headers: Mapping[str, str] | None = None) -> Any:
        """POST and return the JSON answer (None for an empty one)."""
        body = json if json is not None else {}
        response = self.request("POST", path, json=body, headers=headers)
        return self._json(response, path=path) if response.content else None

    def patch(self, path: str, json: Any) -> Any:
        """PATCH and return the JSON answer."""
        return self._json(self.request("PATCH", path, json=json), path=path)

    def put(self, path: str, json: Any) -> Any:
        """PUT and return the JSON answer."""
        return self._json(self.request("PUT", path, json=json), path=path)

    def delete(self, path: str) -> Any:
        """DELETE and return the JSON answer (None for an empty one)."""
        response = self.request("DELETE", path)
        return self._json(response, path=path) if response.content else None

    # --- answers checked against their shape -----------------------------------------
    @staticmethod
    def _model(model: type[M], answer: Any, *, path: str) -> M:
        try:
            return model.model_validate(answer)
        except ValidationError as exc:
            raise UnexpectedAnswer(path, expected=f"a {model.__name__}") from exc

    @staticmethod
    def _object(answer: Any, *, path: str) -> Row:
        if not isinstance(answer, dict):
            raise UnexpectedAnswer(path, expected="a JSON object")
        return answer

    @staticmethod
    def _objects(answer: Any, *, path: str) -> list[Row]:
        if not isinstance(answer, list) or not all(isinstance(row, dict) for row in answer):
            raise UnexpectedAnswer(path, expected="a list of JSON objects")
        return answer

    @classmethod
    def _models(cls, model: type[M], answer: Any, *, path: str) -> list[M]:
        return [cls._model(model, row, path=path) for row in cls._objects(answer, path=path)]

    def _page(self, model: type[M], path: str, **params: Any) -> Page[M]:
        page_of = Page[model]  # type: ignore[valid-type]  # a runtime-parametrised generic
        return self._get_as(page_of, path, **params)

    def _get_as(self, model: type[M], path: str, **params: Any) -> M:
        return self._model(model, self.get(path, **params), path=path)

    def _post_as(self, model: type[M], path: str, json: Any = None) -> M:
        return self._model(model, self.post(path, json), path=path)

    def _patch_as(self, model: type[M], path: str, json: Any) -> M:
        return self._model(model, self.patch(path, json), path=path)

    def _rows(self, path: str, **params: Any) -> Page[Row]:
        return self._get_as(Page[Row], path, **params)

    def _get_object(self, path: str, **params: Any) -> Row:
        return self._object(self.get(path, **params), path=path)

    def _get_objects(self, path: str, **params: Any) -> list[Row]:
        return self._objects(self.get(path, **params), path=path)

    def _post_object(self, path: str, json: Any = None) -> Row:
        return self._object(self.post(path, json), path=path)

    def _patch_object(self, path: str, json: Any) -> Row:
        return self._object(self.patch(path, json), path=path)

    def _put_object(self, path: str, json: Any) -> Row:
        return self._object(self.put(path, json), path=path)

    # --- auth -----------------------------------------------------------------------
    def login(self, *, username: str, password: str) -> MeRead:
        """Sign in and load who we are, with the permissions the screens are built from."""
        body = {"username": username, "password": password}
        token = self._post_as(TokenRead, "/auth/login", body)
        with self._lock:
            self._token = token.access_token
        self.me = self._get_as(MeRead, "/auth/me")
        return self.me

    def health(self) -> HealthRead:
        """Ask the server whether it is up."""
        return self._get_as(HealthRead, "/health")

    # --- catalog --------------------------------------------------------------------
    def products(self, **filters: Any) -> Page[ProductRead]:
        """List products (q, category_id, supplier_id, active, limit, offset, sort)."""
        return self._page(ProductRead, "/products", **filters)

    def product(self, product_id: int) -> ProductRead:
        """Fetch one product."""
        return self._get_as(ProductRead, f"/products/{product_id}")

    def create_product(self, data: ProductCreate) -> ProductRead:
        """Create a product."""
        body = data.model_dump(mode="json", exclude_defaults=False)
        for key in ("packs", "purchase_unit", "purchase_units_per"):
            # Sent only when given: a server from before packs refuses fields it lacks.
            if key not in data.model_fields_set:
                body.pop(key, None)
        return self._post_as(ProductRead, "/products", body)

    def update_product(self, product_id: int, data: ProductUpdate) -> ProductRead:
        """Change a product (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._patch_as(ProductRead, f"/products/{product_id}", body)

    def create_template(self, data: TemplateCreate) -> TemplateRead:
        """Create a product template and its variants."""
        body = data.model_dump(mode="json")
        return self._post_as(TemplateRead, "/product-templates", body)

    def create_category(self, *, name: str) -> CategoryRead:
        """Create a category."""
        return self._post_as(CategoryRead, "/categories", {"name": name})

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
        return self._post_as(SupplierRead, "/suppliers", data.model_dump(mode="json"))

    def update_supplier(self, supplier_id: int, data: SupplierUpdate) -> SupplierRead:
        """Change a supplier (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._patch_as(SupplierRead, f"/suppliers/{supplier_id}", body)

    def customers(self, **filters: Any) -> Page[CustomerRead]:
        """List customers (q, with_balance, limit, offset)."""
        return self._page(CustomerRead, "/customers", **filters)

    def customer(self, customer_id: int) -> CustomerRead:
        """Fetch one customer."""
        return self._get_as(CustomerRead, f"/customers/{customer_id}")

    def create_customer(self, data: CustomerCreate) -> CustomerRead:
        """Create a customer."""
        return self._post_as(CustomerRead, "/customers", data.model_dump(mode="json"))

    def update_customer(self, customer_id: int, data: CustomerUpdate) -> CustomerRead:
        """Change a customer (only the fields that were set)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._patch_as(CustomerRead, f"/customers/{customer_id}", body)

    def set_sms_opt_in(self, customer_id: int, *, agreed: bool) -> None:
        """Record (or withdraw) a customer's consent to text messages."""
        path = f"/customers/{customer_id}/sms-opt-in"
        if agreed:
            self.put(path, {})
        else:
            self.delete(path)

    def statement_pdf(self, party: Party, party_id: int, *, start: date, end: date) -> bytes:
        """Return a customer's or supplier's statement of account for a period as a PDF."""
        params = {"from": start.isoformat(), "to": end.isoformat(), "format": "pdf"}
        return self.request("GET", f"/{party}/{party_id}/statement", params=params).content

    def customer_account(self, customer_id: int) -> AccountRead:
        """Return a customer's credit account summary."""
        return self._get_as(AccountRead, f"/customers/{customer_id}/account")

    def credit_history(self, customer_id: int) -> Page[CreditEntryRead]:
        """Return a customer's credit ledger, newest first."""
        return self._page(CreditEntryRead, f"/customers/{customer_id}/credit-history")

    def record_payment(
        self, customer_id: int, *, amount: Decimal, method: str = "cash", reference: str = ""
    ) -> CreditEntryRead:
        """Record a payment against a customer's account."""
        body = {"amount": amount, "method": method, "reference": reference}
        return self._post_as(CreditEntryRead, f"/customers/{customer_id}/payments", body)

    # --- stock ----------------------------------------------------------------------
    def stock_levels(self, **filters: Any) -> Page[StockLevelRead]:
        """List stock levels (branch_id, status, q, limit, offset)."""
        return self._page(StockLevelRead, "/stock/levels", **filters)

    def movements(self, **filters: Any) -> Page[MovementRead]:
        """List stock movements (product_id, branch_id, limit, offset)."""
        return self._page(MovementRead, "/stock/movements", **filters)

    def adjust_stock(
        self,
        *,
        branch_id: int,
        product_id: int,
        quantity: Decimal,
        reason: str,
        reference: str = "",
    ) -> MovementRead:
        """Record a manual adjustment with a reason."""
        body = {
            "branch_id": branch_id,
            "product_id": product_id,
            "quantity": quantity,
            "reason": reason,
            "reference": reference,
        }
        return self._post_as(MovementRead, "/stock/adjustments", body)

    def receive_stock(
        self, *, branch_id: int, lines: list[Row], reference: str = ""
    ) -> list[MovementRead]:
        """Receive goods without a purchase order (lines: product_id, quantity, unit_cost)."""
        body = {"branch_id": branch_id, "reference": reference, "lines": lines}
        path = "/stock/receipts"
        return self._models(MovementRead, self.post(path, body), path=path)

    def incoming_stock(self, *, branch_id: int) -> list[IncomingRead]:
        """Return what is on order for a branch, per product."""
        path = "/stock/incoming"
        return self._models(IncomingRead, self.get(path, branch_id=branch_id), path=path)

    def start_count(self, *, branch_id: int, category_id: int | None = None) -> CountRead:
        """Open a stock count at a branch (of one category, or all)."""
        body = {"branch_id": branch_id, "category_id": category_id}
        return self._post_as(CountRead, "/counts", body)

    def count_scan(
        self, count_id: int, *, barcode: str, quantity: Decimal | None = None
    ) -> CountRead:
        """Count the product with this barcode: one, or the quantity given."""
        body: Row = {"barcode": barcode}
        if quantity is not None:
            body["quantity"] = quantity
        return self._post_as(CountRead, f"/counts/{count_id}/lines", body)

    def set_count_line(self, count_id: int, *, product_id: int, quantity: Decimal) -> CountRead:
        """Set how many of a product a count found (replacing what was entered)."""
        body = {"product_id": product_id, "quantity": quantity, "replace": True}
        return self._post_as(CountRead, f"/counts/{count_id}/lines", body)

    def remove_count_line(self, count_id: int, *, product_id: int) -> CountRead:
        """Take a product off an open count, as if never counted."""
        path = f"/counts/{count_id}/lines/{product_id}"
        return self._model(CountRead, self.delete(path), path=path)

    def stock_count(self, count_id: int) -> CountRead:
        """Review a count: counted, expected and difference per line."""
        return self._get_as(CountRead, f"/counts/{count_id}")

    def count_uncounted(self, count_id: int) -> UncountedRead:
        """Return what posting with zero_uncounted would set to zero (scope, lines)."""
        return self._get_as(UncountedRead, f"/counts/{count_id}/uncounted")

    def post_count(self, count_id: int, *, zero_uncounted: bool = False) -> CountRead:
        """Post a count: differences become count movements (optionally zeroing the rest)."""
        body = {"zero_uncounted": zero_uncounted}
        return self._post_as(CountRead, f"/counts/{count_id}/post", body)

    def transfers(self, **filters: Any) -> Page[TransferRead]:
        """List transfers between branches."""
        return self._page(TransferRead, "/transfers", **filters)

    def create_transfer(
        self, *, source_branch_id: int, destination_branch_id: int, lines: list[Row], note: str = ""
    ) -> TransferRead:
        """Create a transfer."""
        body = {
            "source_branch_id": source_branch_id,
            "destination_branch_id": destination_branch_id,
            "lines": lines,
            "note": note,
        }
        return self._post_as(TransferRead, "/transfers", body)

    def transfer(self, transfer_id: int) -> TransferRead:
        """Fetch one transfer with its lines."""
        return self._get_as(TransferRead, f"/transfers/{transfer_id}")

    def receive_transfer(
        self, transfer_id: int, *, lines: list[Row], close: bool = False
    ) -> TransferRead:
        """Book what arrived of a transfer; close records what did not as a discrepancy."""
        body = {"lines": lines, "close": close}
        return self._post_as(TransferRead, f"/transfers/{transfer_id}/receive", body)

    def transfer_action(self, transfer_id: int, action: str) -> TransferRead:
        """Dispatch or receive a transfer."""
        return self._post_as(TransferRead, f"/transfers/{transfer_id}/{action}", {})

    # --- purchasing -----------------------------------------------------------------
    def purchase_orders(self, **filters: Any) -> Page[PORead]:
        """List purchase orders (status, supplier_id, branch_id, limit, offset)."""
        return self._page(PORead, "/purchase-orders", **filters)

    def purchase_order(self, po_id: int) -> PORead:
        """Fetch one purchase order with its lines."""
        return self._get_as(PORead, f"/purchase-orders/{po_id}")

    def create_purchase_order(
        self, *, supplier_id: int, branch_id: int, lines: list[Row], notes: str = ""
    ) -> PORead:
        """Create a draft purchase order."""
        body = {"supplier_id": supplier_id, "branch_id": branch_id, "lines": lines, "notes": notes}
        return self._post_as(PORead, "/purchase-orders", body)

    def po_action(self, po_id: int, action: str, *, comment: str | None = None) -> PORead:
        """Submit, approve, reject (with a comment), cancel or close a purchase order."""
        body = {"comment": comment} if comment is not None else {}
        return self._post_as(PORead, f"/purchase-orders/{po_id}/{action}", body)

    def receive_purchase_order(
        self, po_id: int, *, lines: list[Row], note: str = ""
    ) -> ReceiptRead:
        """Receive goods against a purchase order (partial receipts allowed)."""
        body = {"lines": lines, "note": note}
        return self._post_as(ReceiptRead, f"/purchase-orders/{po_id}/receipts", body)

    def purchase_order_receipts(self, po_id: int) -> list[ReceiptRead]:
        """List the goods receipts of a purchase order, oldest first."""
        path = f"/purchase-orders/{po_id}/receipts"
        return [self._model(ReceiptRead, row, path=path) for row in self._get_objects(path)]

    def send_purchase_order(self, po_id: int) -> PORead:
        """Send an approved purchase order to its supplier (e-mailed with its PDF)."""
        return self._post_as(PORead, f"/purchase-orders/{po_id}/send", {})

    def purchase_order_pdf(self, po_id: int) -> bytes:
        """Return a purchase order as the PDF its supplier gets."""
        return self.request("GET", f"/purchase-orders/{po_id}/pdf").content

    def purchase_order_emails(self, po_id: int) -> POEmailsRead:
        """Return the e-mails about a purchase order with their delivery state, and whether
        the server can send e-mail at all (email_configured)."""
        return self._get_as(POEmailsRead, f"/purchase-orders/{po_id}/emails")

    def tax_classes(self) -> list[TaxClassRead]:
        """List the business's tax classes."""
        answer = self._get_objects("/tax-classes")
        return [self._model(TaxClassRead, row, path="/tax-classes") for row in answer]

    def starting_costs(self, supplier_id: int, product_ids: list[int]) -> dict[int, Row]:
        """Return, per product, the cost a new PO line starts from (per base unit) and why."""
        path = f"/suppliers/{supplier_id}/starting-costs"
        rows = self._get_objects(path, product_id=product_ids)
        if not all(isinstance(row.get("product_id"), int) for row in rows):
            raise UnexpectedAnswer(path, expected="a cost per product id")
        return {row["product_id"]: row for row in rows}

    def set_supplier_price(
        self, supplier_id: int, product_id: int, *, unit_cost: Decimal
    ) -> SupplierPriceRead:
        """Record what a supplier charges for one base unit of a product."""
        path = f"/suppliers/{supplier_id}/prices/{product_id}"
        body = {"unit_cost": str(unit_cost)}
        return self._model(SupplierPriceRead, self.put(path, body), path=path)

    def confirm_purchase_order(
        self, po_id: int, *, delivery_date: date, lines: list[Row]
    ) -> PORead:
        """Record what the supplier confirmed (quantities per line) and when it will deliver."""
        body = {"delivery_date": delivery_date.isoformat(), "lines": lines}
        return self._post_as(PORead, f"/purchase-orders/{po_id}/confirm", body)

    def ship_purchase_order(
        self, po_id: int, *, carrier: str, tracking_number: str, expected_arrival: date
    ) -> PORead:
        """Record the supplier's shipment of a purchase order."""
        body = {
            "carrier": carrier,
            "tracking_number": tracking_number,
            "expected_arrival": expected_arrival.isoformat(),
        }
        return self._post_as(PORead, f"/purchase-orders/{po_id}/ship", body)

    def reorder_suggestions(self, *, branch_id: int, method: str | None = None) -> SuggestionsRead:
        """Suggest what to reorder at a branch, grouped by supplier."""
        params: dict[str, Any] = {"branch_id": branch_id}
        if method is not None:
            params["method"] = method
        return self._get_as(SuggestionsRead, "/reorder-suggestions", **params)

    def draft_reorders(
        self, *, branch_id: int, supplier_ids: list[int], method: str | None = None
    ) -> list[PORead]:
        """Turn reorder suggestions into draft purchase orders, one per supplier."""
        body: Row = {"branch_id": branch_id, "supplier_ids": supplier_ids}
        if method is not None:
            body["method"] = method
        path = "/reorder-suggestions/purchase-orders"
        answer = self._objects(self.post(path, body), path=path)
        return [self._model(PORead, row, path=path) for row in answer]

    def supplier_account(self, supplier_id: int) -> VendorAccountRead:
        """Return what the shop owes a vendor."""
        return self._get_as(VendorAccountRead, f"/suppliers/{supplier_id}/account")

    def pay_supplier(
        self, supplier_id: int, *, amount: Decimal, method: str = "bank", reference: str = ""
    ) -> VendorEntryRead:
        """Record a payment made to a vendor."""
        body = {"amount": amount, "method": method, "reference": reference}
        return self._post_as(VendorEntryRead, f"/suppliers/{supplier_id}/payments", body)

    # --- sales ----------------------------------------------------------------------
    def sales_requests(self, **filters: Any) -> Page[SalesRequestRead]:
        """List wholesale sales requests."""
        return self._page(SalesRequestRead, "/sales-requests", **filters)

    def sales_request_action(
        self, request_id: int, action: str, *, comment: str | None = None
    ) -> SalesRequestRead:
        """Approve, reject (with a comment) or cancel a sales request."""
        body = {"comment": comment} if comment is not None else {}
        return self._post_as(SalesRequestRead, f"/sales-requests/{request_id}/{action}", body)

    def journal(self, kind: Journal, **filters: Any) -> Page[Row]:
        """List till sales or returns (q, branch_id, date_from, reason, limit, offset)."""
        return self._rows(f"/{kind}", **filters)

    def journal_entry(self, kind: Journal, document_id: int) -> Row:
        """Fetch one till sale or return with its lines and tenders."""
        return self._get_object(f"/{kind}/{document_id}")

    def order(self, order_id: int) -> OrderRead:
        """Fetch one online order with its lines and steps."""
        return self._get_as(OrderRead, f"/orders/{order_id}")

    def ship_order(self, order_id: int, *, carrier: str, tracking_number: str) -> OrderRead:
        """Record an online order's shipment."""
        body = {"carrier": carrier, "tracking_number": tracking_number}
        return self._post_as(OrderRead, f"/orders/{order_id}/shipment", body)

    def picking_list_pdf(self, *, branch_id: int) -> bytes:
        """Return a branch's picking list of open online orders as a PDF."""
        return self.request("GET", f"/picking-lists/{branch_id}/pdf").content

    def orders(self, **filters: Any) -> Page[OrderRead]:
        """List online orders."""
        return self._page(OrderRead, "/orders", **filters)

    def order_action(self, order_id: int, action: str, body: Row | None = None) -> OrderRead:
        """Move an online order on: picking, packed, shipment, delivered or cancel."""
        return self._post_as(OrderRead, f"/orders/{order_id}/{action}", body or {})

    # --- alerts, audit, reports -----------------------------------------------------
    def alerts(self, **filters: Any) -> Page[AlertRead]:
        """List alerts (kind, status, branch_id)."""
        return self._page(AlertRead, "/alerts", **filters)

    def acknowledge_alert(self, alert_id: int) -> AlertRead:
        """Acknowledge an alert."""
        path = f"/alerts/{alert_id}/acknowledge"
        return self._post_as(AlertRead, path, {})

    def promotions(self, **filters: Any) -> Page[RuleRead]:
        """List promotions (active=true: only the live ones)."""
        return self._page(RuleRead, "/promotions", **filters)

    def create_promotion(self, body: Row) -> RuleRead:
        """Create or schedule a promotion (body: a PromotionIn, checked by the server)."""
        return self._post_as(RuleRead, "/promotions", body)

    def end_promotion(self, promotion_id: int) -> RuleRead:
        """End a promotion now."""
        path = f"/promotions/{promotion_id}/end"
        return self._post_as(RuleRead, path, {})

    def price_lists(self, **filters: Any) -> Page[RuleRead]:
        """List price lists (active=true: only the live ones)."""
        return self._page(RuleRead, "/price-lists", **filters)

    def preview_prices(self, data: PreviewIn) -> PreviewRead:
        """Price a cart without selling it ("what would this cart cost")."""
        path = "/pricing/preview"
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._post_as(PreviewRead, path, body)

    def notifications(self, **filters: Any) -> Page[NotificationRead]:
        """List my notifications."""
        return self._page(NotificationRead, "/notifications", **filters)

    def audit(self, **filters: Any) -> Page[AuditEntryRead]:
        """List audit entries (action, actor, entity_type, since, until)."""
        return self._page(AuditEntryRead, "/audit", **filters)

    def verify_audit(self) -> ChainReportRead:
        """Verify the tenant's audit hash chain."""
        return self._get_as(ChainReportRead, "/audit/verify")

    def report(self, name: str, **filters: Any) -> Row:
        """Run a report (rows + columns) from /reports/<name>."""
        return self._get_object(f"/reports/{name}", **filters)

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

    def devices(self, **filters: Any) -> Page[DeviceRead]:
        """List enrolled tills."""
        return self._page(DeviceRead, "/devices", **filters)

    def api_keys(self, **filters: Any) -> Page[ApiKeyRead]:
        """List API keys."""
        return self._page(ApiKeyRead, "/api-keys", **filters)

    def create_user(self, data: UserCreate) -> UserRead:
        """Create a user (username, role, branches, password, optional PIN)."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._post_as(UserRead, "/users", body)

    def update_user(self, user_id: int, data: UserUpdate) -> UserRead:
        """Change a user: only the fields that were set."""
        path = f"/users/{user_id}"
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._patch_as(UserRead, path, body)

    def create_branch(self, data: BranchCreate) -> BranchRead:
        """Create a branch."""
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._post_as(BranchRead, "/branches", body)

    def update_branch(self, branch_id: int, data: BranchUpdate) -> BranchRead:
        """Change a branch: only the fields that were set."""
        path = f"/branches/{branch_id}"
        body = data.model_dump(mode="json", exclude_unset=True)
        return self._patch_as(BranchRead, path, body)

    def create_api_key(self, data: ApiKeyCreate) -> ApiKeyCreated:
        """Create an API key; the answer carries its secret, shown once."""
        body = data.model_dump(mode="json")
        return self._post_as(ApiKeyCreated, "/api-keys", body)

    def revoke_api_key(self, key_id: int) -> ApiKeyRead:
        """Revoke an API key at once."""
        path = f"/api-keys/{key_id}/revoke"
        return self._post_as(ApiKeyRead, path, {})

    def enrolment_code(self, *, branch_id: int) -> EnrolmentCodeRead:
        """Issue a one-time code that enrols a new till at a branch."""
        path = "/devices/enrolment-codes"
        return self._post_as(EnrolmentCodeRead, path, {"branch_id": branch_id})

    def rename_device(self, device_id: str, *, name: str) -> DeviceRead:
        """Rename an enrolled till."""
        path = f"/devices/{device_id}"
        return self._patch_as(DeviceRead, path, {"name": name})

    def revoke_device(self, device_id: str) -> DeviceRead:
        """Revoke a till: its sync stops at once."""
        path = f"/devices/{device_id}/revoke"
        return self._post_as(DeviceRead, path, {})

    def settings(self) -> TenantSettings:
        """Return the tenant's settings (a setting this version does not know is left out, so
        a manager's app keeps working against a newer server)."""
        path = "/settings"
        answer = self.get(path)
        if isinstance(answer, dict):
            fields = TenantSettings.model_fields
            answer = {key: value for key, value in answer.items() if key in fields}
        return self._model(TenantSettings, answer, path=path)

    def put_setting(self, key: str, value: Any) -> SettingRead:
        """Change one tenant setting."""
        path = f"/settings/{key}"
        return self._model(SettingRead, self.put(path, {"value": value}), path=path)
