"""Stock alerts follow the levels: judged whenever inventory says a level or threshold moved."""

from __future__ import annotations

from functools import partial

from sync_server.alerts.service import (
    LIVE_AT_LEVEL,
    announce,
    evaluate_stock,
    evaluate_stock_many,
    note_none_live,
)
from sync_server.events import subscribe
from sync_server.inventory.events import StockChanged, ThresholdChanged
from sync_server.inventory.ledger import LockCompanion, lock_companion

# An order's reservation counts its products' live stock alerts with the levels' locks:
# when there are none (most products), judging its movements reads none.
lock_companion(LockCompanion(column=LIVE_AT_LEVEL, note=note_none_live))


@subscribe(StockChanged)
def judge_moved_levels(event: StockChanged) -> None:
    """Open or clear the alerts of every level a batch moved; announce each after its level."""
    judged = evaluate_stock_many(
        event.session,
        items=[(change.product, change.level, change.threshold) for change in event.changes],
    )
    for change, alerts in zip(event.changes, judged, strict=True):
        if alerts:
            change.follow_ups.append(partial(announce, event.session, alerts))


@subscribe(ThresholdChanged)
def judge_new_threshold(event: ThresholdChanged) -> None:
    """Judge a level against its branch's new threshold, and announce what that changed."""
    announce(event.session, evaluate_stock(event.session, product=event.product, level=event.level))
