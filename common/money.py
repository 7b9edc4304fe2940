"""Money as Decimal with a currency, and the one rounding rule of StockPilot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

# Minor-unit exponents for the currencies a shop is likely to use; anything else has 2.
_MINOR_UNITS: dict[str, int] = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}
DEFAULT_CURRENCY = "INR"
ZERO = Decimal("0")


def minor_units(currency: str = DEFAULT_CURRENCY) -> int:
    """Return how many decimal places the currency's minor unit has."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Convert an exact value to Decimal; floats are refused because they are not exact."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a str, int or Decimal")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not an amount") from exc
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return result


def round_money(amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Round half-up to the currency's minor unit: the only rounding money ever gets."""
    exponent = _EXPONENTS.get(currency)
    if exponent is None:
        exponent = _EXPONENTS[currency] = Decimal(1).scaleb(-minor_units(currency))
    # Pricing rounds thousands of Decimals per cart: skip the conversion they do not need.
    value = amount if type(amount) is Decimal and amount.is_finite() else to_decimal(amount)
    return value.quantize(exponent, rounding=ROUND_HALF_UP)


# The quantum of each currency's minor unit, worked out once per currency.
_EXPONENTS: dict[str, Decimal] = {}


# The smallest coin or note a drawer pays out, where it is above the minor unit.
_CASH_UNITS: dict[str, Decimal] = {"INR": Decimal("1"), "JPY": Decimal("1")}


def cash_unit(currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Return the smallest amount a cash drawer can pay out in this currency."""
    return _CASH_UNITS.get(currency.upper(), Decimal(1).scaleb(-minor_units(currency)))


def round_cash(amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Round half-up to the currency's cash unit: what a drawer can actually pay out."""
    unit = cash_unit(currency)
    units = (to_decimal(amount) / unit).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return round_money(units * unit, currency)


# Round amounts a customer is likely to hand over, by the notes in use (smallest step first).
_CASH_STEPS: dict[str, tuple[Decimal, ...]] = {
    "INR": (Decimal(100), Decimal(500), Decimal(2000)),
    "JPY": (Decimal(1000), Decimal(5000), Decimal(10000)),
}


def quick_cash(
    total: Decimal, currency: str = DEFAULT_CURRENCY, *, count: int = 3
) -> list[Decimal]:
    """Return likely cash handed over for a total: the next round amounts above it.

    For ₹1,265 that is 1,300, 1,500 and 2,000 (the exact amount is offered separately).
    """
    steps = _CASH_STEPS.get(currency.upper(), (Decimal(10), Decimal(50), Decimal(100)))
    total = to_decimal(total)
    amounts: list[Decimal] = []
    for step in steps:
        above = (total / step).to_integral_value(rounding=ROUND_CEILING) * step
        if above == total:
            above += step
        if above not in amounts:
            amounts.append(above)
    # A total beyond the biggest step still gets three choices: more of the biggest note.
    while len(amounts) < count:
        amounts.append(amounts[-1] + steps[-1])
    return [round_money(a, currency) for a in sorted(amounts)[:count]]


def to_minor(amount: Decimal | int | str, currency: str = DEFAULT_CURRENCY) -> int:
    """Return the amount in integer minor units (paise, cents)."""
    return int(round_money(amount, currency).scaleb(minor_units(currency)))


def from_minor(units: int, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Return the Decimal amount for integer minor units."""
    return Decimal(units).scaleb(-minor_units(currency))


def percent_of(amount: Decimal, rate_percent: Decimal, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Return rate% of amount, rounded to the minor unit."""
    return round_money(amount * rate_percent / Decimal(100), currency)


def tax_included(
    gross: Decimal, rate_percent: Decimal, currency: str = DEFAULT_CURRENCY
) -> Decimal:
    """Return the tax contained in a tax-inclusive gross amount."""
    if rate_percent == 0:
        return round_money(0, currency)
    net = gross * Decimal(100) / (Decimal(100) + rate_percent)
    return round_money(gross - net, currency)


def allocate(
    total: Decimal, weights: list[Decimal], currency: str = DEFAULT_CURRENCY
) -> list[Decimal]:
    """Split total in proportion to weights so the parts add up to total exactly."""
    if not weights:
        return []
    total = round_money(total, currency)
    weight_sum = sum(weights, ZERO)
    if weight_sum == 0:
        parts = [round_money(0, currency) for _ in weights]
        parts[0] = total
        return parts
    parts = [round_money(total * w / weight_sum, currency) for w in weights]
    # Rounding leaves a few minor units over or under; the largest part absorbs them.
    remainder = total - sum(parts, ZERO)
    largest = max(range(len(weights)), key=lambda i: weights[i])
    parts[largest] += remainder
    return parts


def format_money(amount: Decimal, currency: str = DEFAULT_CURRENCY, *, symbol: bool = True) -> str:
    """Format for people: thousands separators and the currency's minor digits."""
    places = minor_units(currency)
    text = f"{round_money(amount, currency):,.{places}f}"
    if not symbol:
        return text
    return f"{_SYMBOLS.get(currency.upper(), currency.upper() + ' ')}{text}"


_SYMBOLS: dict[str, str] = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency; arithmetic keeps full precision until round() is called."""

    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", self.currency.upper())

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def round(self) -> Money:
        """Return this amount rounded half-up to the minor unit."""
        return Money(round_money(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)
