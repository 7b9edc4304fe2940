"""Building blocks of every API schema: money and quantity types, pages, problems.

This is also the API's input-hygiene layer: every bound here matches what both database
engines can store, so bad input is a 422 before it reaches a database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import annotated_types as at
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from common.hygiene import (
    DECIMAL_PATTERN,
    MAX_AMOUNT,
    MAX_BIGINT,
    MAX_QUANTITY,
    bounded_json,
    check_text,
    strict_decimal,
)
from common.money import DEFAULT_CURRENCY, minor_units

T = TypeVar("T")

# A database id (path, query or body): within signed 64 bits, as both engines store it.
Id = Annotated[int, at.Ge(1), at.Le(MAX_BIGINT)]
# A row offset, cursor or sequence number: never negative, never beyond 64 bits.
Offset = Annotated[int, at.Ge(0), at.Le(MAX_BIGINT)]


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _places(limit: int, *, why: str = "") -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limit:
            raise ValueError(f"must have at most {limit} decimal places{why}")
        return value

    return check


def _within(low: Decimal, high: Decimal, *, above: bool) -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        if above and value <= low:
            raise ValueError(f"must be greater than {plain_str(low)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {plain_str(low)} and {plain_str(high)}")
        return value

    return check


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(
    *,
    places: int,
    low: Decimal,
    high: Decimal,
    text: PlainSerializer,
    above: bool = False,
    why: str = "",
) -> Any:
    """Build a strict decimal type: plain ASCII text, bounded, at most `places` decimals."""
    # The bounds are checked by a validator and documented as numbers (a Field(ge=Decimal)
    # would put them in OpenAPI as strings such as "1E+12").
    schema: dict[str, Any] = {
        "type": "string",
        "format": "decimal",
        "pattern": DECIMAL_PATTERN,
        "maximum": _number(high),
        "description": f"A decimal number as a string, at most {places} decimal places{why}.",
    }
    schema["exclusiveMinimum" if above else "minimum"] = _number(low)
    return Annotated[
        Decimal,
        BeforeValidator(strict_decimal),
        AfterValidator(_finite),
        AfterValidator(_places(places, why=why)),
        AfterValidator(_within(low, high, above=above)),
        WithJsonSchema(schema, mode="validation"),
        text,
    ]


def money_str(value: Decimal) -> str:
    """Return money as text with at least two decimals and no padding beyond them."""
    cents = value.quantize(Decimal("0.01"))
    return format(cents if cents == value else value.normalize(), "f")


def plain_str(value: Decimal) -> str:
    """Return a quantity or rate as text without trailing zeros or exponent ("1.25", "10")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


_as_money = PlainSerializer(money_str, return_type=str, when_used="json")
_as_plain = PlainSerializer(plain_str, return_type=str, when_used="json")

_MINOR = minor_units(DEFAULT_CURRENCY)
_IN_MINOR = f" (whole minor units of {DEFAULT_CURRENCY})"
ZERO = Decimal(0)

# Money travels as a string ("12.50") so no JSON parser turns it into a float; strict
# ("1_000", "١٢" and JSON 1.5 are refused) and within NUMERIC(14,4) on every engine.
Amount = _decimal(places=4, low=-MAX_AMOUNT, high=MAX_AMOUNT, text=_as_money)
NonNegativeAmount = _decimal(places=4, low=ZERO, high=MAX_AMOUNT, text=_as_money)
# An amount a person charges or pays: whole minor units of the currency (paise, cents).
Price = _decimal(places=_MINOR, low=-MAX_AMOUNT, high=MAX_AMOUNT, text=_as_money, why=_IN_MINOR)
NonNegativePrice = _decimal(places=_MINOR, low=ZERO, high=MAX_AMOUNT, text=_as_money, why=_IN_MINOR)
Quantity = _decimal(places=3, low=-MAX_QUANTITY, high=MAX_QUANTITY, text=_as_plain)
PositiveQuantity = _decimal(places=3, low=ZERO, high=MAX_QUANTITY, text=_as_plain, above=True)
Percent = _decimal(places=2, low=ZERO, high=Decimal(100), text=_as_plain)
# Free-form JSON (product attributes, settings): depth and size capped, text clean.
JsonObject = Annotated[dict[str, Any], AfterValidator(bounded_json)]


# Validation context key: every string of the data was checked already, by the model that
# holds it as a plain JSON object (a sync event's payload), so the text is not walked again.
STRINGS_CHECKED = "strings_checked"


class Schema(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _hygiene(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse control and bidi characters in any text, and non-booleans for booleans."""
        field = cls.model_fields.get(info.field_name or "")
        is_bool = field is not None and field.annotation in _BOOLS
        if is_bool and value is not None and not isinstance(value, bool):
            raise ValueError("must be true or false")
        if not (info.context and info.context.get(STRINGS_CHECKED)):
            _check_strings(value, depth=0)
        return value


_BOOLS = (bool, bool | None)


def _check_strings(value: Any, *, depth: int) -> None:
    if isinstance(value, str):
        check_text(value)
    elif depth < 64 and isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, depth=depth + 1)
            _check_strings(item, depth=depth + 1)
    elif depth < 64 and isinstance(value, list | tuple):
        for item in value:
            _check_strings(item, depth=depth + 1)


class ReadSchema(BaseModel):
    """Base for responses, built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Timestamped(ReadSchema):
    created_at: datetime
    updated_at: datetime | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Document problem+json answers for the given status codes in OpenAPI."""
    return {code: {"model": Problem, "content": {"application/problem+json": {}}} for code in codes}
