"""Building blocks of every API schema: money and quantity types, pages, problems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

T = TypeVar("T")


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


def _places(limit: int) -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limit:
            raise ValueError(f"must have at most {limit} decimal places")
        return value

    return check


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

# Money travels as a string ("12.50") so no JSON parser turns it into a float.
Amount = Annotated[
    Decimal,
    AfterValidator(_finite),
    AfterValidator(_places(4)),
    Field(ge=Decimal("-1e12"), le=Decimal("1e12")),
    _as_money,
]
NonNegativeAmount = Annotated[Amount, Field(ge=0)]
Quantity = Annotated[
    Decimal,
    AfterValidator(_finite),
    AfterValidator(_places(3)),
    Field(ge=Decimal("-1e9"), le=Decimal("1e9")),
    _as_plain,
]
PositiveQuantity = Annotated[Quantity, Field(gt=0)]
Percent = Annotated[
    Decimal, AfterValidator(_finite), AfterValidator(_places(2)), Field(ge=0, le=100), _as_plain
]


class Schema(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
