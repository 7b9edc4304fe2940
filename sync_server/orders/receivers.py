"""What the orders domain gives the worker: expiring unpaid online orders each round."""

from __future__ import annotations

from sync_server.foundation.jobs import register_round
from sync_server.orders.expiry import expire_due

register_round("orders.expire-unpaid", expire_due)
