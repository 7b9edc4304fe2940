"""What every till screen is given: settings, the DB op runner, the shop, the receipt desk,
and the change bus that tells screens what a command or a sync changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from PySide6.QtCore import QObject, Signal
from sqlalchemy.orm import Session

from pos_client.config import ShopInfo, TillConfig
from pos_client.qt.ops import CommandOp, OpRunner, QueryOp
from pos_client.services.changes import OpChanges
from pos_client.services.login import LoginGuard
from pos_client.ui.till.receipts import ReceiptDesk

T = TypeVar("T")


class ChangeBus(QObject):
    """Where commands and sync cycles say what they changed; screens refresh from it."""

    changed = Signal(object)  # OpChanges

    def publish(self, changes: OpChanges) -> None:
        """Tell the screens what changed (nothing is said when nothing changed)."""
        if changes:
            self.changed.emit(changes)


@dataclass
class TillContext:
    """The till's injected services; screens reach the store only through query/command."""

    config: TillConfig
    runner: OpRunner
    receipts: ReceiptDesk
    guard: LoginGuard = field(default_factory=LoginGuard)
    changes: ChangeBus = field(default_factory=ChangeBus)

    @property
    def shop(self) -> ShopInfo:
        """Return the receipt header and footer."""
        return self.config.shop

    def query(self, fn: Callable[[Session], T]) -> QueryOp[T]:
        """Return a read op over the store."""
        return QueryOp(fn, runner=self.runner)

    def command(self, fn: Callable[[Session], T], *, changes: OpChanges) -> CommandOp[T]:
        """Return a write op (one transaction) that publishes `changes` once it committed."""
        bus = self.changes
        return CommandOp(fn, runner=self.runner, then=lambda: bus.publish(changes))
