"""Loyalty points: what a sale earns and what points are worth, the same on till and server.

Points are whole numbers. A sale earns, per line, its amount × the rate (points per 100 of
money) of the line's category, or the business's rate; a rate of 0 or an excluded SKU earns
nothing; the sale's points are rounded down once, at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LoyaltyRules:
    """The business's loyalty settings, as both programs read them."""

    points_per_100: Decimal = Decimal("1")
    point_value: Decimal = Decimal("0.25")
    category_rates: Mapping[str, Decimal] = field(default_factory=dict)
    excluded_skus: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset({"in_store", "online"})

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> LoyaltyRules:
        """Read the rules from settings as they travel in JSON."""
        rates = values.get("loyalty_category_rates") or {}
        assert isinstance(rates, Mapping)
        return cls(
            points_per_100=Decimal(str(values.get("loyalty_points_per_100", "1"))),
            point_value=Decimal(str(values.get("loyalty_point_value", "0.25"))),
            category_rates={str(k): Decimal(str(v)) for k, v in rates.items()},
            excluded_skus=frozenset(
                s.strip()
                for s in str(values.get("loyalty_excluded_skus", "")).split(",")
                if s.strip()
            ),
            channels=frozenset(
                c.strip()
                for c in str(values.get("loyalty_channels", "in_store,online")).split(",")
                if c.strip()
            ),
        )


@dataclass(frozen=True)
class EarningLine:
    amount: Decimal
    sku: str
    category_id: int | None


def points_earned(lines: Iterable[EarningLine], *, rules: LoyaltyRules, channel: str) -> int:
    """Return the whole points a sale earns under the rules."""
    if channel not in rules.channels:
        return 0
    total = Decimal(0)
    for line in lines:
        if line.sku in rules.excluded_skus or line.amount <= 0:
            continue
        rate = rules.category_rates.get(str(line.category_id), rules.points_per_100)
        total += line.amount * rate / HUNDRED
    return int(total.to_integral_value(rounding=ROUND_FLOOR))


def value_of(points: int, *, rules: LoyaltyRules) -> Decimal:
    """Return what points are worth as money."""
    return (Decimal(points) * rules.point_value).quantize(Decimal("0.01"))


def points_for(amount: Decimal, *, rules: LoyaltyRules) -> int:
    """Return the points needed to pay an amount (rounded up: a part point is a point)."""
    if rules.point_value <= 0:
        raise ValueError("points have no value in this business")
    return int((amount / rules.point_value).to_integral_value(rounding=ROUND_CEILING))
