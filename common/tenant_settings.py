"""A business's settings: each one's meaning, type, range and default, in one typed model.

The server validates `PUT /settings/{key}` against this model and the README's table of
settings is generated from it (`python -m common.tenant_settings`), so the three never drift.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from common.schemas.base import NonNegativeAmount, Percent

RATE_LIMIT_CLASSES = ("read", "write")
MAX_RATE_LIMIT = 1_000_000
MAX_RESERVATION_MINUTES = 7 * 24 * 60


class SettingRefused(ValueError):
    """A setting's value does not fit its type or range; the message says why, in words."""


def _check_rate_limits(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - set(RATE_LIMIT_CLASSES))
    if "login" in unknown:
        raise SettingRefused(
            "Setting 'rate_limits' cannot change the login limit: logins are counted per "
            "address before the business is known, so that limit is the server's "
            "(STOCKPILOT_RATE_LIMIT_LOGIN_PER_MINUTE)."
        )
    if unknown:
        raise SettingRefused(
            f"Setting 'rate_limits' knows only {', '.join(RATE_LIMIT_CLASSES)}, "
            f"not {', '.join(unknown)}."
        )
    for name, limit in value.items():
        # bool is an int to Python, but true is no number of requests.
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise SettingRefused(
                f"rate_limits.{name} must be a whole number of requests per minute, not {limit!r}."
            )
        if not 1 <= limit <= MAX_RATE_LIMIT:
            raise SettingRefused(
                f"rate_limits.{name} must be between 1 and {MAX_RATE_LIMIT} requests per minute."
            )
    return value


class TenantSettings(BaseModel):
    """Every setting of a business, with its default."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    currency: str = Field(
        default="INR",
        pattern=r"^[A-Z]{3}$",
        description="Currency of prices, receipts and statements (ISO 4217 code, e.g. INR).",
        json_schema_extra={"range": "3 capital letters"},
    )
    receipt_footer: str = Field(
        default="Thank you for shopping with us!",
        max_length=200,
        description="Line printed at the bottom of every receipt.",
        json_schema_extra={"range": "up to 200 characters"},
    )
    legal_name: str = Field(
        default="",
        max_length=200,
        description="The business's registered (legal) name, printed on tax invoices and credit "
        "notes; empty: the trade name.",
        json_schema_extra={"range": "up to 200 characters"},
    )
    trade_name: str = Field(
        default="",
        max_length=120,
        description="The name customers know the shop by, printed at the top of receipts, "
        "Z reports and invoices; empty: the business's name.",
        json_schema_extra={"range": "up to 120 characters"},
    )
    shop_phone: str = Field(
        default="",
        max_length=40,
        description="Phone number printed on documents where the branch has none of its own.",
        json_schema_extra={"range": "up to 40 characters"},
    )
    shop_email: str = Field(
        default="",
        max_length=254,
        description="E-mail address printed on receipts and invoices; empty: none.",
        json_schema_extra={"range": "up to 254 characters"},
    )
    receipt_header: str = Field(
        default="",
        max_length=200,
        description="Line printed under the shop's name and address on every receipt "
        "(e.g. opening hours); empty: none.",
        json_schema_extra={"range": "up to 200 characters"},
    )
    po_admin_approval_threshold: NonNegativeAmount = Field(
        default=Decimal("100000.00"),
        description="Purchase orders with a total above this amount need an admin's approval; "
        "a manager may approve the others.",
        json_schema_extra={"range": "0 or more"},
    )
    stock_in_on_approval: bool = Field(
        default=False,
        description="true: approving a purchase order books its goods into stock at once "
        "(no separate goods receipt).",
    )
    allow_over_receipt: bool = Field(
        default=False, description="true: a goods receipt may book more than was ordered."
    )
    order_reservation_minutes: int = Field(
        default=30,
        ge=1,
        le=MAX_RESERVATION_MINUTES,
        description="Minutes an unpaid online order holds its stock before it is released.",
        json_schema_extra={"range": f"1 to {MAX_RESERVATION_MINUTES} (a week)"},
    )
    till_max_discount_percent: Percent = Field(
        default=Decimal("10"),
        description="Largest discount (percent of a line or sale) a cashier may give without "
        "a manager's approval at the till.",
        json_schema_extra={"range": "0 to 100"},
    )
    till_offline_credit_allowed: bool = Field(
        default=True,
        description="true: tills may sell on a customer's account while the server is "
        "unreachable (checked against the last known credit limit).",
    )
    giftcard_offline_card_limit: NonNegativeAmount = Field(
        default=Decimal("2000.00"),
        description="Most a till may take from one gift card or store credit while it cannot "
        "reach the server (a card may set its own); beyond the balance it is flagged on sync.",
        json_schema_extra={"range": "0 or more (0: no offline redemption)"},
    )
    giftcard_offline_till_limit: NonNegativeAmount = Field(
        default=Decimal("10000.00"),
        description="Most a till may take in gift cards and store credit altogether while it "
        "cannot reach the server.",
        json_schema_extra={"range": "0 or more (0: no offline redemption)"},
    )
    loyalty_points_per_100: NonNegativeAmount = Field(
        default=Decimal("1"),
        description="Loyalty points a customer earns per 100 spent (0: no loyalty points).",
        json_schema_extra={"range": "0 or more"},
    )
    loyalty_point_value: NonNegativeAmount = Field(
        default=Decimal("0.25"),
        description="What one loyalty point is worth when the customer pays with points.",
        json_schema_extra={"range": "0 or more"},
    )
    loyalty_category_rates: dict[str, Any] = Field(
        default_factory=dict,
        description='Points per 100 by category id, overriding the rate, e.g. {"7": 2, '
        '"9": 0}; 0 excludes a category.',
        json_schema_extra={"range": "category id: 0 or more"},
    )
    loyalty_excluded_skus: str = Field(
        default="",
        max_length=2000,
        description="SKUs (comma-separated) that earn no points, e.g. tobacco or gift cards.",
        json_schema_extra={"range": "up to 2000 characters"},
    )
    loyalty_channels: str = Field(
        default="in_store,online",
        max_length=100,
        description="Channels whose sales earn points (in_store, online, wholesale).",
        json_schema_extra={"range": "in_store, online, wholesale, comma-separated"},
    )
    upi_vpa: str = Field(
        default="",
        max_length=100,
        description="The shop's UPI address (name@bank): the customer display shows a QR code "
        "to pay each sale's amount to it; empty: no UPI QR.",
        json_schema_extra={"range": "empty, or a UPI address such as shop@okbank"},
    )
    upi_payee_name: str = Field(
        default="",
        max_length=50,
        description="The name UPI apps show for the shop when paying by QR code.",
        json_schema_extra={"range": "up to 50 characters"},
    )
    low_stock_sms_to: str = Field(
        default="",
        max_length=500,
        description="Phone numbers (comma-separated) of the managers who get low-stock alerts "
        "by SMS; empty: none.",
        json_schema_extra={"range": "up to 500 characters"},
    )
    rate_limits: dict[str, Any] = Field(
        default_factory=dict,
        description='Requests per minute per caller for this business, e.g. {"read": 600, '
        '"write": 60}; a class left out keeps the server\'s limit.',
        json_schema_extra={"range": f"read, write: 1 to {MAX_RATE_LIMIT}"},
    )

    time_zone: str = Field(
        default="Asia/Kolkata",
        max_length=64,
        description="The shop's IANA time zone: printed reports show their times in it.",
        json_schema_extra={"range": "an IANA name such as Asia/Kolkata or Europe/London"},
    )

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_rate_limits(value)

    @field_validator("loyalty_category_rates")
    @classmethod
    def _category_rates(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, rate in value.items():
            if not str(key).isdigit():
                raise SettingRefused(f"loyalty_category_rates: {key!r} is not a category id.")
            try:
                number = Decimal(str(rate))
            except ArithmeticError:
                raise SettingRefused(
                    f"loyalty_category_rates.{key} must be a number, not {rate!r}."
                ) from None
            if isinstance(rate, bool) or not number.is_finite() or not 0 <= number <= 1000:
                raise SettingRefused(f"loyalty_category_rates.{key} must be 0 to 1000.")
        return value

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ValueError, ZoneInfoNotFoundError):
            raise SettingRefused(
                f"'{value}' is not a time zone; use a name such as Asia/Kolkata or Europe/London."
            ) from None
        return name


# What JSON a setting takes, by its Python type: (accepted JSON types, words for a person).
_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    str: ((str,), "text"),
    bool: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    Decimal: ((str, int), "a decimal number as text"),
    dict: ((dict,), "a dict (a JSON object)"),
}


def _base_type(annotation: Any) -> type:
    while hasattr(annotation, "__origin__") and annotation.__origin__ is not dict:
        annotation = annotation.__origin__  # Annotated[...] down to its type
    return dict if getattr(annotation, "__origin__", None) is dict else annotation


def setting_keys() -> list[str]:
    """Return every setting's name, in the model's order."""
    return list(TenantSettings.model_fields)


def defaults() -> dict[str, Any]:
    """Return every setting's default as it travels in JSON."""
    return TenantSettings().model_dump(mode="json")


def kind(key: str) -> str:
    """Return the words for what a setting takes ("a whole number")."""
    return _KINDS[_base_type(TenantSettings.model_fields[key].annotation)][1]


def validate_setting(key: str, value: Any) -> Any:
    """Return a setting's value as stored and sent, or raise SettingRefused saying why."""
    field = TenantSettings.model_fields[key]
    accepted, words = _KINDS[_base_type(field.annotation)]
    if isinstance(value, bool) and bool not in accepted or not isinstance(value, accepted):
        raise SettingRefused(
            f"Setting '{key}' takes {words}, not {type(value).__name__}."
            if words.startswith("a dict")
            else f"Setting '{key}' takes {words}, not {value!r}."
        )
    try:
        # The other settings keep their (valid) defaults, so any error is this one's.
        checked = TenantSettings.model_validate({key: value})
    except ValidationError as exc:
        error = exc.errors()[0]
        if isinstance(error.get("ctx", {}).get("error"), SettingRefused):
            raise error["ctx"]["error"] from None  # the model's own words (rate_limits)
        raise SettingRefused(
            f"Setting '{key}' must be {_range(key)}, not {value!r}: {field.description}"
        ) from None
    return checked.model_dump(mode="json")[key]


def _range(key: str) -> str:
    extra = TenantSettings.model_fields[key].json_schema_extra or {}
    return str(extra.get("range", kind(key)))  # type: ignore[union-attr]


def markdown_table() -> str:
    """Return the README's table of settings, generated from the model."""
    rows = ["| setting | type | default | range | meaning |", "| --- | --- | --- | --- | --- |"]
    values = defaults()
    for key, field in TenantSettings.model_fields.items():
        rows.append(
            f"| `{key}` | {kind(key)} | `{_json(values[key])}` | {_range(key)} | "
            f"{field.description} |"
        )
    return "\n".join(rows)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    print(markdown_table())
