"""Read a product sheet (CSV or XLSX), check every row, then create or update each by SKU.

The sheet's own headers are matched to our fields by name or synonym ("MRP" is the price,
"Item code" the SKU); the person can change the matching before anything is read. Each row is
its own server call: the result lists what the server did with every row (created, updated or
refused with its reason), never more and never less. A new product's opening stock is received
at the chosen branch at the row's cost.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from common.barcodes import BarcodeError, make_ean13, validate_gtin
from common.schemas.catalog import ProductCreate, ProductRead, ProductUpdate
from pos_client.api.client import ApiClient, ApiError, ServerUnreachable

COLUMNS = ("sku", "name", "price", "cost", "tax_rate", "unit", "barcodes", "low_stock_threshold")
# Every field a sheet's column may feed: the product's, its category, and its opening stock.
FIELDS = (*COLUMNS, "category", "opening_stock")
LABELS = {
    "sku": "SKU",
    "name": "Name",
    "price": "Price",
    "cost": "Cost",
    "tax_rate": "Tax rate",
    "unit": "Unit",
    "barcodes": "Barcodes",
    "low_stock_threshold": "Low stock threshold",
    "category": "Category",
    "opening_stock": "Opening stock",
}
# Headers shops use for each field, compared without case, spaces or punctuation.
SYNONYMS = {
    "sku": ("sku", "itemcode", "productcode", "code", "article", "articleno", "skucode"),
    "name": ("name", "productname", "itemname", "product", "item", "description", "title"),
    "price": ("price", "mrp", "sellingprice", "saleprice", "salesprice", "rate", "retailprice"),
    "cost": ("cost", "costprice", "purchaseprice", "buyingprice", "landedcost", "unitcost"),
    "tax_rate": ("taxrate", "tax", "gst", "gstrate", "taxpercent", "vat", "gstpercent"),
    "unit": ("unit", "uom", "units", "unitofmeasure"),
    "barcodes": ("barcodes", "barcode", "ean", "upc", "gtin", "ean13"),
    "low_stock_threshold": (
        "lowstockthreshold",
        "lowstock",
        "reorderlevel",
        "minstock",
        "minimumstock",
        "reorderpoint",
    ),
    "category": ("category", "group", "department", "productcategory", "itemgroup"),
    "opening_stock": (
        "openingstock",
        "openingqty",
        "openingquantity",
        "stock",
        "qty",
        "quantity",
        "onhand",
        "stockqty",
    ),
}
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


def parse_quantity(text: str) -> Decimal:
    """Return a count of units ("1,200" → 1200); ValueError says what is wrong."""
    value = Decimal(parse_amount(text))
    if value < 0:
        raise ValueError(f"'{text}' is below zero")
    return value


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


def guess_mapping(headers: list[str]) -> list[str | None]:
    """Return, for each header, the field it feeds (or None); each field is taken once."""
    taken: set[str] = set()
    mapping: list[str | None] = []
    lookup = {synonym: name for name, synonyms in SYNONYMS.items() for synonym in synonyms}
    for header in headers:
        name = lookup.get(_key(header))
        if name is None or name in taken:
            mapping.append(None)
            continue
        taken.add(name)
        mapping.append(name)
    return mapping


def mapping_problems(mapping: list[str | None]) -> list[str]:
    """Say what is wrong with a column mapping: a field chosen twice, a required one missing."""
    problems = []
    for name in FIELDS:
        if mapping.count(name) > 1:
            problems.append(f"{LABELS[name]} is chosen for {mapping.count(name)} columns")
    for name in REQUIRED:
        if name not in mapping:
            problems.append(f"choose the column that holds {LABELS[name]}")
    return problems


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return a sheet's headers and its non-empty rows, every cell as trimmed text."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # only bulk import needs it

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            cells = [
                ["" if v is None else str(v).strip() for v in row]
                for row in book.active.iter_rows(values_only=True)
            ]
        finally:
            book.close()
    else:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            cells = [[(v or "").strip() for v in row] for row in csv.reader(handle)]
    cells = [row for row in cells if any(row)]
    if not cells:
        return [], []
    headers = cells[0]
    width = len(headers)
    return headers, [(row + [""] * width)[:width] for row in cells[1:]]


def apply_mapping(rows: list[list[str]], mapping: list[str | None]) -> list[dict[str, str]]:
    """Return each row as {field: text} by the chosen mapping."""
    return [
        {name: row[i] for i, name in enumerate(mapping) if name is not None and i < len(row)}
        for row in rows
    ]


TEMPLATE_HEADERS = [LABELS[name] for name in FIELDS]


def template_rows() -> list[list[str]]:
    """Return the template's header and one example row (a valid EAN-13, Indian grouping)."""
    example = {
        "sku": "RICE-5",
        "name": "Basmati Rice 5 kg",
        "price": "₹1,200.50",
        "cost": "₹950",
        "tax_rate": "5",
        "unit": "piece",
        "barcodes": make_ean13("890100000091"),
        "low_stock_threshold": "10",
        "category": "Grains",
        "opening_stock": "25",
    }
    return [TEMPLATE_HEADERS, [example[name] for name in FIELDS]]


def write_template(path: Path) -> Path:
    """Write the import template as CSV, or XLSX when the name ends in .xlsx."""
    rows = template_rows()
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "Products"
        for row in rows:
            sheet.append(row)
        for column in sheet.columns:  # every cell text: barcodes keep their digits
            for cell in column:
                cell.number_format = "@"
            sheet.column_dimensions[column[0].column_letter].width = max(
                12, len(str(column[0].value)) + 4
            )
        book.save(path)
        return path
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(rows)
    return path


@dataclass
class ImportRow:
    """One row of the sheet: what it says, and what is wrong with it (empty when clean)."""

    line: int
    values: dict[str, str]
    product: ProductCreate | None = None
    errors: list[str] = field(default_factory=list)
    category: str = ""
    opening_stock: Decimal | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the row can be imported."""
        return not self.errors and self.product is not None


def read_sheet(path: Path) -> list[dict[str, str]]:
    """Return the sheet's rows as {field: text}, its headers matched by name or synonym."""
    headers, rows = read_table(path)
    return apply_mapping(rows, guess_mapping(headers))


def _field_message(error: ErrorDetails) -> str:
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
        if values.get("opening_stock"):
            try:
                row.opening_stock = parse_quantity(values["opening_stock"])
            except ValueError as exc:
                row.errors.append(f"opening stock: {exc}")
            else:
                if row.opening_stock and not data.get("cost"):
                    row.errors.append(
                        "opening stock needs a cost (what one unit cost you), or it would be "
                        "valued at zero"
                    )
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


def import_rows(
    api: ApiClient, rows: list[ImportRow], *, branch_id: int | None = None
) -> list[RowResult]:
    """Create or update each clean row by SKU and say exactly what happened to every row.

    Runs on a network thread. A row the server refuses leaves the others as they were; once
    the server stops answering, the rows left are reported as not sent. A created product's
    opening stock is received at ``branch_id`` at the row's cost; an existing product's stock
    is left alone (a stock count corrects it), and the row says so.
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
                if row.opening_stock:
                    notes.append(_opening_stock(api, saved, row.opening_stock, branch_id))
            else:
                if row.opening_stock:
                    notes.append("opening stock not applied: the product exists (count it)")
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
            results.append(RowResult(row.line, sku, "not sent", exc.detail + _kept(notes)))
        except ApiError as exc:
            results.append(RowResult(row.line, sku, "refused", exc.detail + _kept(notes)))
    return results


def _kept(notes: list[str]) -> str:
    """Say what a refused row still left on the server (a category made for it)."""
    made = [note.removeprefix("new ") for note in notes if note.startswith("new category ")]
    return f" (its {made[0]} was created and stays)" if made else ""


def _opening_stock(
    api: ApiClient, product: ProductRead, quantity: Decimal, branch_id: int | None
) -> str:
    """Receive a new product's opening stock; say what happened (the product stays created)."""
    if branch_id is None:
        return "opening stock not applied: no branch was chosen"
    try:
        api.receive_stock(
            branch_id=branch_id,
            lines=[{"product_id": product.id, "quantity": quantity, "unit_cost": product.cost}],
            reference="opening stock",
        )
    except ServerUnreachable as exc:
        return f"opening stock not sent: {exc.detail}"
    except ApiError as exc:
        return f"opening stock refused: {exc.detail}"
    return f"opening stock {quantity.normalize():f}"
