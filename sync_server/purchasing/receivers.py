"""What purchasing tells the domains below it: the stock its open orders still bring."""

from __future__ import annotations

from sync_server.inventory.incoming import register_on_order
from sync_server.purchasing.incoming import on_order

register_on_order(on_order)
