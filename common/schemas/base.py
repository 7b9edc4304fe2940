"""Building blocks of every API schema: money and quantity types, pages, problems.

This is also the API's input-hygiene layer: every bound here matches what both database
engines can store, so bad input is a 422 before it reaches a database.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import annotated_types as at
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from common.hygiene import (
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


def _places(limit: int, *, why: str = ""):
    def check(value: Decimal) -> Decimal:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limit:
            raise ValueError(f"must have at most {limit} decimal places{why}")
        return value

    return check


def _within(low: Decimal, high: Decimal):
    # A bound checked here rather than with Field(ge=...), so OpenAPI shows numbers (below).
    def check(value: Decimal) -> Decimal:
        if not low <= value <= high:
            raise ValueError(f"must be between {plain_str(low)} and {plain_str(high)}")
        return value

    return check


def _bounds(low: Decimal, high: Decimal) -> dict[str, Any]:
    return {"minimum": float(low), "maximum": float(high)}


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

# Money travels as a string ("12.50") so no JSON parser turns it into a float; strict
# ("1_000", "١٢" and JSON 1.5 are refused) and within NUMERIC(14,4) on every engine.
Amount = Annotated[
    Decimal,
    BeforeValidator(strict_decimal),
    AfterValidator(_finite),
    AfterValidator(_places(4)),
    AfterValidator(_within(-MAX_AMOUNT, MAX_AMOUNT)),
    Field(json_schema_extra=_bounds(-MAX_AMOUNT, MAX_AMOUNT)),
    _as_money,
]
NonNegativeAmount = Annotated[Amount, Field(ge=0)]
# An amount a person charges or pays: whole minor units of the currency (paise, cents).
Price = Annotated[
    Amount, AfterValidator(_places(_MINOR, why=f" (the minor unit of {DEFAULT_CURRENCY})"))
]
NonNegativePrice = Annotated[Price, Field(ge=0)]
Quantity = Annotated[
    Decimal,
    BeforeValidator(strict_decimal),
    AfterValidator(_finite),
    AfterValidator(_places(3)),
    AfterValidator(_within(-MAX_QUANTITY, MAX_QUANTITY)),
    Field(json_schema_extra=_bounds(-MAX_QUANTITY, MAX_QUANTITY)),
    _as_plain,
]
PositiveQuantity = Annotated[Quantity, Field(gt=0)]
Percent = Annotated[
    Decimal,
    BeforeValidator(strict_decimal),
    AfterValidator(_finite),
    AfterValidator(_places(2)),
    Field(ge=0, le=100),
    _as_plain,
]
# Free-form JSON (product attributes, settings): depth and size capped, text clean.
JsonObject = Annotated[dict[str, Any], AfterValidator(bounded_json)]


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
