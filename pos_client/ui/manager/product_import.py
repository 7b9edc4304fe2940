"""Read a product sheet (CSV or XLSX), check every row, then create or update each by SKU.

Each row is its own server call: the result lists what the server did with every row
(created, updated or refused with its reason), never more and never less.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from common.barcodes import BarcodeError, validate_gtin
from common.schemas.catalog import ProductCreate, ProductRead, ProductUpdate
from pos_client.api.client import ApiClient, ApiError, ServerUnreachable

COLUMNS = ("sku", "name", "price", "cost", "tax_rate", "unit", "barcodes", "low_stock_threshold")
REQUIRED = ("sku", "name", "price")
AMOUNTS = ("price", "cost")
# Currency marks a shop writes before or after an amount: "₹1,200.50", "Rs. 120", "120 INR".
CURRENCY = re.compile(r"(₹|\$|€|£|\bRs\.?|\bINR\b|\bUSD\b|\bEUR\b|\bGBP\b)", re.IGNORECASE)
# Commas only as thousands separators, Western (1,200,000) or Indian (12,00,000) grouping.
GROUPED = re.compile(r"^-?\d{1,3}(,\d{2})*(,\d{3})(\.\d+)?$")


def parse_amount(text: str) -> str:
    """Return an amount as plain digits ("₹1,200.50" → "1200.50"); ValueError says what is wrong."""
    cleaned = CURRENCY.sub("", text).replace("\u00a0", "").replace(" ", "").strip()
    if "," in cleaned:
        if not GROUPED.match(cleaned):
            raise ValueError(f"'{text}' is not an amount: write decimals with a point, e.g. 120.50")
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"'{text}' is not an amount")
    return cleaned


@dataclass
class ImportRow:
    """One row of the sheet: what it says, and what is wrong with it (empty when clean)."""

    line: int
    values: dict[str, str]
    product: ProductCreate | None = None
    errors: list[str] = field(default_factory=list)
    category: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the row can be imported."""
        return not self.errors and self.product is not None


def read_sheet(path: Path) -> list[dict[str, str]]:
    """Return the sheet's rows as dicts keyed by lower-case header."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # only bulk import needs it

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = list(book.active.iter_rows(values_only=True))
        finally:
            book.close()
        if not rows:
            return []
        header = [str(h or "").strip().lower() for h in rows[0]]
        return [
            {
                header[i]: "" if v is None else str(v).strip()
                for i, v in enumerate(row)
                if i < len(header)
            }
            for row in rows[1:]
            if any(v not in (None, "") for v in row)
        ]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return [
            {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            for row in reader
            if any((v or "").strip() for v in row.values())
        ]


def _field_message(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"


def check_rows(raw: list[dict[str, str]]) -> list[ImportRow]:
    """Validate every row as the server would (schema, check digits, duplicates in the file)."""
    rows: list[ImportRow] = []
    seen_skus: dict[str, int] = {}
    seen_codes: dict[str, int] = {}
    for number, values in enumerate(raw, start=2):  # line 1 is the header
        row = ImportRow(line=number, values=values)
        for name in REQUIRED:
            if not values.get(name):
                row.errors.append(f"{name} is missing")
        codes = [
            c.strip() for c in values.get("barcodes", "").replace(";", ",").split(",") if c.strip()
        ]
        for code in codes:
            try:
                validate_gtin(code)
            except BarcodeError as exc:
                row.errors.append(str(exc))
            if code in seen_codes:
                row.errors.append(f"barcode {code} is also on line {seen_codes[code]}")
            seen_codes.setdefault(code, number)
        sku = values.get("sku", "")
        if sku and sku in seen_skus:
            row.errors.append(f"SKU {sku} is also on line {seen_skus[sku]}")
        seen_skus.setdefault(sku, number)
        data: dict[str, Any] = {k: values[k] for k in COLUMNS if values.get(k) and k != "barcodes"}
        for name in AMOUNTS:
            if data.get(name):
                try:
                    data[name] = parse_amount(data[name])
                except ValueError as exc:
                    row.errors.append(f"{name}: {exc}")
        row.category = values.get("category", "").strip()
        if not row.errors:
            data["barcodes"] = codes
            try:
                row.product = ProductCreate.model_validate(data)
            except ValidationError as exc:
                row.errors.extend(_field_message(e) for e in exc.errors())
        rows.append(row)
    return rows


@dataclass(frozen=True)
class RowResult:
    """What the server did with one row: created, updated, refused, or not sent."""

    line: int
    sku: str
    outcome: str
    detail: str = ""
    product: ProductRead | None = None


def _find_by_sku(api: ApiClient, sku: str) -> ProductRead | None:
    for product in api.products(q=sku, limit=50).items:
        if product.sku.lower() == sku.lower():
            return product
    return None


def _category_id(api: ApiClient, name: str, known: dict[str, int]) -> tuple[int, bool]:
    """Return the category's id by name, creating it when the shop has none by that name."""
    key = name.casefold()
    if key in known:
        return known[key], False
    created = api.create_category(name=name)
    known[key] = created.id
    return created.id, True


def import_rows(api: ApiClient, rows: list[ImportRow]) -> list[RowResult]:
    """Create or update each clean row by SKU and say exactly what happened to every row.

    Runs on a network thread. A row the server refuses leaves the others as they were; once
    the server stops answering, the rows left are reported as not sent.
    """
    results: list[RowResult] = []
    categories: dict[str, int] = {}
    stopped = ""
    try:
        categories = {c.name.casefold(): c.id for c in api.categories()}
    except ApiError as exc:
        stopped = exc.detail
    for row in rows:
        sku = row.values.get("sku", "")
        if not row.ok or row.product is None:
            results.append(RowResult(row.line, sku, "refused", "; ".join(row.errors)))
            continue
        if stopped:
            results.append(RowResult(row.line, sku, "not sent", stopped))
            continue
        try:
            notes: list[str] = []
            product = row.product
            if row.category:
                category_id, new = _category_id(api, row.category, categories)
                product = product.model_copy(update={"category_id": category_id})
                if new:
                    notes.append(f"new category {row.category}")
            existing = _find_by_sku(api, product.sku)
            if existing is None:
                saved = api.create_product(product)
                outcome = "created"
            else:
                given = {k for k in COLUMNS if row.values.get(k)} | (
                    {"category_id"} if row.category else set()
                )
                update = ProductUpdate.model_validate(
                    product.model_dump(include=given - {"sku"}, mode="json")
                )
                saved = api.update_product(existing.id, update)
                outcome = "updated"
            results.append(RowResult(row.line, sku, outcome, ", ".join(notes), saved))
        except ServerUnreachable as exc:
            stopped = exc.detail
            results.append(RowResult(row.line, sku, "not sent", exc.detail))
        except ApiError as exc:
            results.append(RowResult(row.line, sku, "refused", exc.detail))
    return results
