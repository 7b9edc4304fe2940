"""Tax: classes with components, effective-dated rates, place of supply, one rounding rule.

The till, the server, online orders and wholesale all tax a line with `tax_line` and total a
document with `document_totals`, so a receipt and an invoice for the same cart cannot differ.

The rounding rule: each component of each line is rounded to the minor unit (half-up, by
`common.money`), a line's tax is the sum of its rounded components and its total is taxable
value plus tax; a document's figures are sums of its lines' rounded figures (then, for cash,
one round-off to the cash unit). Nothing is rounded twice and nothing is summed unrounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from common.money import (
    DEFAULT_CURRENCY,
    ZERO,
    minor_units,
    round_cash,
    round_money,
    to_decimal,
)

HUNDRED = Decimal(100)


class Supply(StrEnum):
    """Whether a sale stays inside the seller's state (CGST+SGST) or crosses it (IGST)."""

    INTRA = "intra"
    INTER = "inter"


class Scope(StrEnum):
    """Which supplies a component applies to."""

    INTRA = "intra"  # CGST, SGST/UTGST
    INTER = "inter"  # IGST
    ALWAYS = "always"  # cess, VAT, a plain sales tax


@dataclass(frozen=True, slots=True)
class Component:
    """One tax of a class: its code (CGST, IGST, VAT...), its rate in percent and its scope."""

    code: str
    rate: Decimal
    scope: Scope = Scope.ALWAYS

    def applies(self, supply: Supply) -> bool:
        """Say whether this component is charged on a supply of this kind."""
        return self.scope == Scope.ALWAYS or self.scope.value == supply.value


@dataclass(frozen=True, slots=True)
class RateSet:
    """A class's components from a date on (a rate change is a new set, not an edit)."""

    effective_from: date
    components: tuple[Component, ...]


@dataclass(frozen=True, slots=True)
class TaxClass:
    """A named group of goods taxed alike, e.g. "GST 18%" or "VAT standard"."""

    code: str
    name: str
    rates: tuple[RateSet, ...]

    def components_on(self, *, day: date, supply: Supply = Supply.INTRA) -> tuple[Component, ...]:
        """Return the components charged on a day for a kind of supply."""
        current = [r for r in self.rates if r.effective_from <= day]
        if not current:
            return ()
        latest = max(current, key=lambda r: r.effective_from)
        return tuple(c for c in latest.components if c.applies(supply))

    def rate_on(self, *, day: date, supply: Supply = Supply.INTRA) -> Decimal:
        """Return the total rate in percent charged on a day for a kind of supply."""
        return sum((c.rate for c in self.components_on(day=day, supply=supply)), ZERO)


EPOCH = date(2000, 1, 1)


def _plain(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def rates_to_wire(rates: Iterable[RateSet]) -> list[dict[str, Any]]:
    """Return rate sets as stored and sent: ISO dates, rates as text, oldest first."""
    return [
        {
            "effective_from": r.effective_from.isoformat(),
            "components": [
                {"code": c.code, "rate": _plain(c.rate), "scope": c.scope.value}
                for c in r.components
            ],
        }
        for r in sorted(rates, key=lambda r: r.effective_from)
    ]


def class_from_wire(data: dict[str, Any]) -> TaxClass:
    """Read a class back from JSON ({"code", "name", "rates": [...]})."""
    return TaxClass(
        code=str(data.get("code", "")),
        name=str(data.get("name", "")),
        rates=tuple(
            RateSet(
                date.fromisoformat(str(r["effective_from"])),
                tuple(
                    Component(str(c["code"]), to_decimal(str(c["rate"])), Scope(c["scope"]))
                    for c in r["components"]
                ),
            )
            for r in data.get("rates", [])
        ),
    )


def components_for(
    *, tax_class: TaxClass | None, tax_rate: Decimal, day: date, supply: Supply
) -> tuple[Component, ...]:
    """Return a product's components: its class's, or one TAX component at its plain rate."""
    if tax_class is not None:
        return tax_class.components_on(day=day, supply=supply)
    return (Component("TAX", tax_rate),) if tax_rate else ()


def gst_components(rate: Decimal | str, *, cess: Decimal | str = ZERO) -> tuple[Component, ...]:
    """Return India's GST components for a rate: half CGST + half SGST, or IGST, and cess."""
    rate = to_decimal(rate)
    half = rate / 2
    parts = [
        Component("CGST", half, Scope.INTRA),
        Component("SGST", half, Scope.INTRA),
        Component("IGST", rate, Scope.INTER),
    ]
    if to_decimal(cess):
        parts.append(Component("CESS", to_decimal(cess), Scope.ALWAYS))
    return tuple(parts)


def gst_class(
    rate: Decimal | str, *, cess: Decimal | str = ZERO, since: date = EPOCH, code: str = ""
) -> TaxClass:
    """Return a GST class at one rate (e.g. 18 gives CGST 9 + SGST 9, or IGST 18)."""
    rate = to_decimal(rate)
    text = f"{rate.normalize():f}"
    return TaxClass(
        code=code or f"GST{text}",
        name=f"GST {text}%",
        rates=(RateSet(since, gst_components(rate, cess=cess)),),
    )


def single_class(
    rate: Decimal | str, *, code: str = "", name: str = "", component: str = "TAX"
) -> TaxClass:
    """Return a class with one component for every supply (VAT, or a legacy one-rate product)."""
    rate = to_decimal(rate)
    text = f"{rate.normalize():f}"
    return TaxClass(
        code=code or f"{component}{text}",
        name=name or f"{component} {text}%",
        rates=(RateSet(EPOCH, (Component(component, rate, Scope.ALWAYS),)),),
    )


# ---------------------------------------------------------------------------------------------
# Place of supply


def supply_kind(*, seller_state: str | None, buyer_state: str | None) -> Supply:
    """Decide the kind of supply: inter-state only when both states are known and differ.

    A walk-in customer (no state) is served where the shop is, and a business with no state
    (a VAT country) has only one kind of supply.
    """
    seller = (seller_state or "").strip()
    buyer = (buyer_state or "").strip()
    if seller and buyer and seller != buyer:
        return Supply.INTER
    return Supply.INTRA


# GST state codes (the first two digits of a GSTIN) and their names, for documents.
STATE_CODES: dict[str, str] = {
    "01": "Jammu and Kashmir", "02": "Himachal Pradesh", "03": "Punjab", "04": "Chandigarh",
    "05": "Uttarakhand", "06": "Haryana", "07": "Delhi", "08": "Rajasthan",
    "09": "Uttar Pradesh", "10": "Bihar", "11": "Sikkim", "12": "Arunachal Pradesh",
    "13": "Nagaland", "14": "Manipur", "15": "Mizoram", "16": "Tripura", "17": "Meghalaya",
    "18": "Assam", "19": "West Bengal", "20": "Jharkhand", "21": "Odisha",
    "22": "Chhattisgarh", "23": "Madhya Pradesh", "24": "Gujarat",
    "26": "Dadra and Nagar Haveli and Daman and Diu", "27": "Maharashtra", "29": "Karnataka",
    "30": "Goa", "31": "Lakshadweep", "32": "Kerala", "33": "Tamil Nadu", "34": "Puducherry",
    "35": "Andaman and Nicobar Islands", "36": "Telangana", "37": "Andhra Pradesh",
    "38": "Ladakh", "97": "Other Territory",
}  # fmt: skip

_GSTIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gstin_check_char(first14: str) -> str:
    """Return the check character of a GSTIN's first 14 characters (mod-36 Luhn)."""
    total = 0
    for index, char in enumerate(first14):
        value = _GSTIN_CHARS.index(char) * (2 if index % 2 else 1)
        total += value // 36 + value % 36
    return _GSTIN_CHARS[(36 - total % 36) % 36]


def gstin_problem(gstin: str) -> str | None:
    """Return why a GSTIN is not valid, in words, or None when it is."""
    text = gstin.strip().upper()
    if len(text) != 15:
        return f"A GSTIN has 15 characters; '{gstin}' has {len(text)}."
    if any(c not in _GSTIN_CHARS for c in text):
        return f"A GSTIN has only digits and capital letters; '{gstin}' has others."
    if text[:2] not in STATE_CODES:
        return f"'{text[:2]}' (the first two digits of '{gstin}') is not a GST state code."
    if gstin_check_char(text[:14]) != text[14]:
        return f"'{gstin}' fails the GSTIN check digit; look for a mistyped character."
    return None


def state_of_gstin(gstin: str) -> str:
    """Return the state code a GSTIN belongs to ('' for an empty GSTIN)."""
    return gstin.strip()[:2]


# ---------------------------------------------------------------------------------------------
# Taxing a line


@dataclass(frozen=True, slots=True)
class ComponentAmount:
    """One component charged on a line: code, rate and rounded amount."""

    code: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LineTax:
    """A line's taxable value, its rounded components, and their sum; total = taxable + tax."""

    taxable: Decimal
    components: tuple[ComponentAmount, ...] = ()

    @property
    def tax(self) -> Decimal:
        """Return the line's tax: the sum of its rounded components."""
        return sum((c.amount for c in self.components), ZERO)

    @property
    def total(self) -> Decimal:
        """Return what the line costs the buyer."""
        return self.taxable + self.tax

    @property
    def rate(self) -> Decimal:
        """Return the line's total rate in percent."""
        return sum((c.rate for c in self.components), ZERO)

    def negated(self) -> LineTax:
        """Return this line reversed, exactly (a credit note for all of it)."""
        return LineTax(
            taxable=-self.taxable,
            components=tuple(ComponentAmount(c.code, c.rate, -c.amount) for c in self.components),
        )

    def to_wire(self) -> dict[str, Any]:
        """Return the line's tax as it travels in JSON (amounts as strings)."""
        return {
            "taxable": str(self.taxable),
            "components": [
                {"code": c.code, "rate": f"{c.rate.normalize():f}", "amount": str(c.amount)}
                for c in self.components
            ],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> LineTax:
        """Read a line's tax back from JSON."""
        return cls(
            taxable=to_decimal(data["taxable"]),
            components=tuple(
                ComponentAmount(str(c["code"]), to_decimal(c["rate"]), to_decimal(c["amount"]))
                for c in data.get("components", [])
            ),
        )


def _charged(
    taxable: Decimal, components: Sequence[Component], currency: str
) -> tuple[ComponentAmount, ...]:
    return tuple(
        ComponentAmount(c.code, c.rate, round_money(taxable * c.rate / HUNDRED, currency))
        for c in components
    )


def tax_exclusive(
    amount: Decimal | str, *, components: Sequence[Component], currency: str = DEFAULT_CURRENCY
) -> LineTax:
    """Tax a line priced before tax: each component is rounded, the tax is added on top."""
    taxable = round_money(amount, currency)
    return LineTax(taxable=taxable, components=_charged(taxable, components, currency))


def tax_inclusive(
    gross: Decimal | str, *, components: Sequence[Component], currency: str = DEFAULT_CURRENCY
) -> LineTax:
    """Tax a line priced with tax in: the buyer pays exactly `gross`, split into value and tax.

    The taxable value is the one amount whose exclusive taxing gives `gross`, so inclusive and
    exclusive prices round-trip. Where none exists (rounding can skip a paisa), each component
    is its share of the gross, rounded (so equal rates such as CGST and SGST stay equal), and
    the taxable value is the rest. Either way taxable + tax is exactly `gross`.
    """
    gross = round_money(gross, currency)
    rate = sum((c.rate for c in components), ZERO)
    if not components or rate == 0:
        return LineTax(taxable=gross, components=_charged(gross, components, currency))
    step = Decimal(1).scaleb(-minor_units(currency))
    sign = -1 if gross < 0 else 1
    target = abs(gross)
    taxable = round_money(target * HUNDRED / (HUNDRED + rate), currency)

    def total(value: Decimal) -> Decimal:
        return value + sum((c.amount for c in _charged(value, components, currency)), ZERO)

    # total() rises strictly with the taxable value, so walk to the last value not above gross.
    while taxable > 0 and total(taxable) > target:
        taxable -= step
    while total(taxable + step) <= target:
        taxable += step
    charged = list(_charged(taxable, components, currency))
    if total(taxable) != target:
        # No taxable value reaches the gross: each component is its share of the gross,
        # rounded, and the value is what is left (the nearest split to the exact one).
        charged = [
            ComponentAmount(
                c.code, c.rate, round_money(target * c.rate / (HUNDRED + rate), currency)
            )
            for c in components
        ]
        taxable = target - sum((c.amount for c in charged), ZERO)
    line = LineTax(taxable=taxable, components=tuple(charged))
    return line if sign > 0 else line.negated()


def tax_line(
    amount: Decimal | str,
    *,
    tax_class: TaxClass,
    day: date,
    supply: Supply = Supply.INTRA,
    inclusive: bool = True,
    currency: str = DEFAULT_CURRENCY,
) -> LineTax:
    """Tax one line's amount (after discounts) under a class, on a day, for a supply."""
    components = tax_class.components_on(day=day, supply=supply)
    if inclusive:
        return tax_inclusive(amount, components=components, currency=currency)
    return tax_exclusive(amount, components=components, currency=currency)


def credit_line(
    original: LineTax,
    *,
    sold: Decimal,
    returned: Decimal,
    returned_before: Decimal = ZERO,
    credited_before: LineTax | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> LineTax:
    """Return the (negative) tax of a credit note for `returned` of a line of `sold`.

    Each figure is the original's share, rounded; the return that completes the line takes
    exactly what is left (`credited_before` holds the earlier credit notes' sum), so all the
    credit notes of a line net the original to zero.
    """
    if sold <= 0 or returned <= 0 or returned_before + returned > sold:
        raise ValueError("only what was sold and not yet returned can be returned")
    if returned_before + returned == sold:
        before = credited_before or LineTax(taxable=ZERO)
        credited = {c.code: c.amount for c in before.components}
        return LineTax(
            taxable=-(original.taxable + before.taxable),
            components=tuple(
                ComponentAmount(c.code, c.rate, -(c.amount + credited.get(c.code, ZERO)))
                for c in original.components
            ),
        )
    share = returned / sold
    return LineTax(
        taxable=-round_money(original.taxable * share, currency),
        components=tuple(
            ComponentAmount(c.code, c.rate, -round_money(c.amount * share, currency))
            for c in original.components
        ),
    )


# ---------------------------------------------------------------------------------------------
# Totalling a document


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    """Taxable value and tax of one component at one rate, over a document or a period."""

    code: str
    rate: Decimal
    taxable: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """A document's totals, all sums of its lines' rounded figures."""

    taxable: Decimal
    tax: Decimal
    total: Decimal
    round_off: Decimal
    payable: Decimal
    breakdown: tuple[BreakdownRow, ...] = field(default=())


def breakdown(lines: Iterable[LineTax]) -> tuple[BreakdownRow, ...]:
    """Group lines' components by code and rate: the "tax by rate" table of a document."""
    rows: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line in lines:
        for c in line.components:
            acc = rows.setdefault((c.code, c.rate.normalize()), [ZERO, ZERO])
            acc[0] += line.taxable
            acc[1] += c.amount
    order = {"CGST": 0, "SGST": 1, "UTGST": 1, "IGST": 2, "CESS": 3}
    return tuple(
        BreakdownRow(code, rate, taxable, amount)
        for (code, rate), (taxable, amount) in sorted(
            rows.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 9), kv[0][0])
        )
    )


def document_totals(
    lines: Sequence[LineTax], *, currency: str = DEFAULT_CURRENCY, cash: bool = False
) -> DocumentTotals:
    """Total a document from its lines; with cash, round the payable to the cash unit once."""
    taxable = sum((line.taxable for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    total = taxable + tax
    payable = round_cash(total, currency) if cash else total
    return DocumentTotals(
        taxable=taxable,
        tax=tax,
        total=total,
        round_off=payable - total,
        payable=payable,
        breakdown=breakdown(lines),
    )
