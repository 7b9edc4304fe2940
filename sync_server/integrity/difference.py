"""One place where a stored figure and its ledger disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Difference:
    """One place where a stored figure and its ledger disagree."""

    kind: str  # stock_level | lot_level | reservation | customer_balance | vendor_ledger
    where: str
    stored: str
    ledger: str

    @property
    def text(self) -> str:
        """Return the difference as one readable line."""
        return f"{self.where}: stored {self.stored}, ledger says {self.ledger}"
