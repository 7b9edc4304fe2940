"""What every till screen is given: settings, the DB op runner, the shop, the receipt desk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from pos_client.config import ShopInfo, TillConfig
from pos_client.qt.ops import CommandOp, OpRunner, QueryOp
from pos_client.services.login import LoginGuard
from pos_client.ui.till.receipts import ReceiptDesk

T = TypeVar("T")


@dataclass
class TillContext:
    """The till's injected services; screens reach the store only through query/command."""

    config: TillConfig
    runner: OpRunner
    receipts: ReceiptDesk
    guard: LoginGuard = field(default_factory=LoginGuard)

    @property
    def shop(self) -> ShopInfo:
        """Return the receipt header and footer."""
        return self.config.shop

    def query(self, fn: Callable[[Session], T]) -> QueryOp[T]:
        """Return a read op over the store."""
        return QueryOp(fn, runner=self.runner)

    def command(self, fn: Callable[[Session], T]) -> CommandOp[T]:
        """Return a write op (one transaction) over the store."""
        return CommandOp(fn, runner=self.runner)
