"""Read a product sheet (CSV or XLSX) and check every row before anything is sent."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from common.barcodes import BarcodeError, validate_gtin
from common.schemas.catalog import ProductCreate

COLUMNS = ("sku", "name", "price", "cost", "tax_rate", "unit", "barcodes", "low_stock_threshold")
REQUIRED = ("sku", "name", "price")


@dataclass
class ImportRow:
    """One row of the sheet: what it says, and what is wrong with it (empty when clean)."""

    line: int
    values: dict[str, str]
    product: ProductCreate | None = None
    errors: list[str] = field(default_factory=list)

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
        if not row.errors:
            data: dict[str, Any] = {
                k: values[k] for k in COLUMNS if values.get(k) and k != "barcodes"
            }
            data["barcodes"] = codes
            try:
                row.product = ProductCreate.model_validate(data)
            except ValidationError as exc:
                row.errors.extend(_field_message(e) for e in exc.errors())
        rows.append(row)
    return rows
