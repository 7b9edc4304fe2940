"""What the till's controllers share: the sale in progress, and the window they serve.

The till window owns one `TillState` and hands it, with itself as a `TillHost`, to each
controller (sale, scan, shift, programs, back office). A controller gets these and the
widgets it draws on in its constructor; nothing reaches it through an untyped `self`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from pos_client.config import TillConfig
from pos_client.services import queries
from pos_client.services.till import Cart

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDialog, QWidget

    from pos_client.services.checkout import CompletedSale
    from pos_client.services.login import Cashier
    from pos_client.services.pricing import TillPricing
    from pos_client.services.queries import ShiftInfo
    from pos_client.services.shifts import ZReport
    from pos_client.services.sync_engine import SyncEngine


@dataclass
class TillState:
    """The sale in progress, who sells it, in which shift, under which rules."""

    cart: Cart
    rules: queries.TillRules = field(default_factory=queries.TillRules)
    pricing: TillPricing | None = None
    cashier: Cashier | None = None
    shift: ShiftInfo | None = None
    last_sale: CompletedSale | None = None
    last_report: ZReport | None = None
    # The sync engine, once sync runs: gift card balances, held sales of the branch.
    sync_engine: SyncEngine | None = None

    def discount_limit(self, config: TillConfig) -> Decimal:
        """Return the discount a cashier may give alone: the server's rule, else the config."""
        limit = self.rules.max_discount_percent
        return limit if limit is not None else config.max_discount_percent

    def new_cart(self, config: TillConfig) -> Cart:
        """Return an empty cart under the current rules."""
        cart = Cart(max_discount_percent=self.discount_limit(config), currency=config.currency)
        cart.pricing = self.pricing
        return cart


def empty_state(config: TillConfig) -> TillState:
    """Return the state of a till nobody has signed in to yet."""
    state = TillState(cart=Cart(currency=config.currency))
    state.cart = state.new_cart(config)
    return state


class TillHost(Protocol):
    """What the controllers need from the till window."""

    @property
    def widget(self) -> QWidget:
        """Return the window: the parent of the controllers' dialogs."""
        ...

    @property
    def dialog(self) -> QWidget | None:
        """Return the dialog the window opened last (it may be closed by now)."""
        ...

    @property
    def is_selling(self) -> bool:
        """Say whether the selling screen is up (not locked)."""
        ...

    def open_dialog(self, dialog: QDialog) -> None:
        """Open a dialog in front of the till; the keyboard comes back when it closes."""
        ...

    def dialog_closed(self) -> None:
        """Give the keyboard and the held scans back to the till."""
        ...

    def nudge_sync(self) -> None:
        """Ask the sync worker to send what was just written (after a sale, a hold…)."""
        ...
