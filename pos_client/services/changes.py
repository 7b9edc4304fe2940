"""What a till command or a sync cycle changed, so screens refresh only what it touched.

Anki's `OpChanges` is the model: a command says what it changed, the screens that show it
refresh; nothing polls the store on a timer to find out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class OpChanges:
    """Which kinds of till data a command or a sync cycle changed."""

    sale: bool = False  # a sale, return or held sale was written
    outbox: bool = False  # events were queued for the server, or the server took them
    stock: bool = False  # stock levels the till shows moved
    shift: bool = False  # a shift opened or closed, or cash moved in the drawer
    catalog: bool = False  # products, prices or pricing rules changed
    customer: bool = False  # a customer was created or their balance changed

    def __or__(self, other: OpChanges) -> OpChanges:
        return OpChanges(
            **{f.name: getattr(self, f.name) or getattr(other, f.name) for f in fields(self)}
        )

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


NOTHING = OpChanges()


STOCK_ENTITIES = frozenset({"stock", "stock_level"})
CUSTOMER_ENTITIES = frozenset({"customer"})


def pulled(entities: set[str], *, reset: bool = False) -> OpChanges:
    """Say what a pulled page changed: stock, customers, and the catalog for everything else."""
    if reset:
        return OpChanges(stock=True, catalog=True, customer=True)
    return OpChanges(
        stock=bool(entities & STOCK_ENTITIES),
        customer=bool(entities & CUSTOMER_ENTITIES),
        catalog=bool(entities - STOCK_ENTITIES - CUSTOMER_ENTITIES),
    )
