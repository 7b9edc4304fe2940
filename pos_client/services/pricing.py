"""The till's side of pricing: the rules from its replica and the engine, offline.

The server sends price lists and promotions through the change feed; the replica keeps them
as plain rows (entity "price_list" / "promotion"). This module turns them into the engine's
rules and prices the cart's lines with the very engine the server uses for online orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.pricing import (
    Channel,
    Context,
    LineIn,
    PricedCart,
    PricedLine,
    PriceList,
    Promotion,
    Rules,
    price_cart,
)
from common.pricing.wire import price_list_from_data, promotion_from_data
from pos_client.store.models import ReplicaRow, Setting, SyncState

PRICE_LIST = "price_list"
PROMOTION = "promotion"
COUPON_USE = "coupon_use"  # this till's own count of each code's offline uses


def load_rules(session: Session) -> Rules:
    """Read the live rules from the replica."""
    rows = session.execute(
        select(ReplicaRow.entity, ReplicaRow.data)
        .where(ReplicaRow.entity.in_((PRICE_LIST, PROMOTION)))
        .order_by(ReplicaRow.entity, ReplicaRow.key)
    ).all()
    lists: list[PriceList] = []
    promos: list[Promotion] = []
    for entity, data in rows:
        rule_id, name, spec = int(data["id"]), data["name"], data["spec"]
        if entity == PRICE_LIST:
            lists.append(price_list_from_data(rule_id=rule_id, name=name, spec=spec))
        else:
            promos.append(promotion_from_data(rule_id=rule_id, name=name, spec=spec))
    return Rules(price_lists=tuple(lists), promotions=tuple(promos))


def _local_now() -> datetime:
    # Happy hours are wall-clock hours of the shop.
    return datetime.now().astimezone()


@dataclass
class TillPricing:
    """What the cart needs to price itself: the rules, the branch, a clock, the coupons."""

    rules: Rules = field(default_factory=Rules)
    branch_id: int | None = None
    channel: Channel = Channel.TILL
    clock: Callable[[], datetime] = _local_now
    coupon_codes: frozenset[str] = frozenset()
    # Per code: how many times this till may still redeem it offline (None: no limit).
    coupon_room: dict[str, int | None] = field(default_factory=dict)
    # With no rules, the engine's answer for each line of the last cart priced (see `price`).
    _alone: dict[tuple[object, ...], PricedLine] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def check_coupon(self, code: str) -> str:
        """Return the code as the rules know it, or say in a cashier's words why not."""
        code = code.strip().upper()
        if code not in self.coupon_room:
            raise ValidationFailed(f"Coupon {code} is not valid (unknown or ended)")
        room = self.coupon_room[code]
        if room is not None and room <= 0:
            raise ValidationFailed(
                f"Coupon {code} has been used up at this till until it is back online"
            )
        return code

    def price(
        self,
        lines: Sequence[LineIn],
        *,
        customer_group: str | None = None,
        coupon_codes: frozenset[str] = frozenset(),
    ) -> PricedCart:
        """Price the cart's lines now, in this branch, with the rules the till holds."""
        ctx = Context(
            at=self.clock(),
            channel=self.channel,
            branch_id=self.branch_id,
            customer_group=customer_group,
            coupon_codes=self.coupon_codes | coupon_codes,
        )
        if self.rules.price_lists or self.rules.promotions:
            return price_cart(lines=lines, ctx=ctx, rules=self.rules)
        return self._price_alone(lines, ctx=ctx)

    def _price_alone(self, lines: Sequence[LineIn], *, ctx: Context) -> PricedCart:
        """Price lines with no rules: each line is the engine's answer for that line alone.

        With no price list and no promotion no line's price depends on another line, so a
        scan prices only the line it added or changed, not the whole cart again; the engine
        still prices every line (and refuses what it refuses), one line at a time.
        """
        if len({line.line_id for line in lines}) != len(lines):
            return price_cart(lines=lines, ctx=ctx, rules=self.rules)  # it says which one
        known = self._alone
        priced: dict[tuple[object, ...], PricedLine] = {}
        for line in lines:
            # Digit for digit: 1 and 1.0 are equal Decimals but not the same answer's digits.
            key: tuple[object, ...] = (
                line.line_id,
                line.product_id,
                str(line.quantity),
                str(line.base_price),
                line.category_id,
                None if line.cost is None else str(line.cost),
                str(line.tax_rate),
            )
            hit = known.get(key)
            if hit is None:
                hit = price_cart(lines=[line], ctx=ctx, rules=self.rules).lines[0]
            priced[key] = hit
        self._alone = priced  # only the cart's lines are kept
        return PricedCart(lines=tuple(priced.values()), applied=())


def load_pricing(session: Session, *, branch_id: int | None) -> TillPricing:
    """Build the till's pricing from its replica."""
    pricing = TillPricing(rules=load_rules(session), branch_id=branch_id)
    rows = session.execute(
        select(ReplicaRow.key, ReplicaRow.data).where(ReplicaRow.entity == COUPON_USE)
    ).all()
    used = {key: data for key, data in rows}
    for data in session.scalars(select(ReplicaRow.data).where(ReplicaRow.entity == PROMOTION)):
        code = data["spec"].get("coupon_code")
        if code:
            limit = data["spec"].get("offline_uses_per_till")
            count = int((used.get(code) or {}).get("count", 0))
            pricing.coupon_room[code] = None if limit is None else limit - count
    return pricing


def count_coupon_uses(session: Session, codes: Sequence[str]) -> None:
    """Count this till's offline uses of coupon codes, in the sale's transaction."""
    for code in codes:
        row = session.get(ReplicaRow, (COUPON_USE, code))
        if row is None:
            session.add(ReplicaRow(entity=COUPON_USE, key=code, data={"count": 1}))
        else:
            row.data = {"count": int(row.data.get("count", 0)) + 1}


def till_pricing(session: Session) -> TillPricing:
    """Build the pricing of this till (its branch, the rules it holds, the shop's clock)."""
    # The sync state row, read directly: the sync protocol (pydantic) loads at first sale.
    state = session.get(SyncState, 1)
    pricing = load_pricing(session, branch_id=state.branch_id if state else None)
    zone = session.scalar(select(Setting.value).where(Setting.key == "time_zone"))
    if isinstance(zone, str):
        try:
            tz = ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            return pricing  # the machine's own zone is the next best guess
        # The shop's wall clock, as the server reads it for online orders.
        pricing.clock = lambda: datetime.now(tz)
    return pricing
