"""Open, clear and acknowledge alerts; stock alerts follow the level by themselves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import String, bindparam, func, literal, select
from sqlalchemy.orm import Session

from common.errors import InvalidState, ValidationFailed
from common.roles import Role
from common.schemas.base import plain_str
from sync_server.alerts.models import Alert
from sync_server.audit import service as audit
from sync_server.audit.service import jsonable
from sync_server.db import utcnow
from sync_server.foundation import feed
from sync_server.foundation.principal import Actor
from sync_server.inventory.models import StockLevel
from sync_server.inventory.thresholds import threshold
from sync_server.lookups import get_owned
from sync_server.notifications import service as notifications

LOW_STOCK = "low_stock"
OUT_OF_STOCK = "out_of_stock"
NEGATIVE_STOCK = "negative_stock"
STOCK_KINDS = (LOW_STOCK, OUT_OF_STOCK, NEGATIVE_STOCK)
STATUSES = ("open", "acknowledged", "cleared")


def _open_alert(
    session: Session, *, tenant_id: int, kind: str, branch_id: int | None, product_id: int | None
) -> Alert | None:
    return session.scalar(
        select(Alert).where(
            Alert.tenant_id == tenant_id,
            Alert.kind == kind,
            Alert.branch_id.is_(None) if branch_id is None else Alert.branch_id == branch_id,
            Alert.product_id.is_(None) if product_id is None else Alert.product_id == product_id,
            Alert.status != "cleared",
        )
    )


def alert_data(alert: Alert) -> dict[str, Any]:
    """Return the feed/API form of an alert."""
    data: dict[str, Any] = jsonable(
        {
            "id": alert.id,
            "kind": alert.kind,
            "branch_id": alert.branch_id,
            "product_id": alert.product_id,
            "status": alert.status,
            "opened_at": alert.opened_at,
            "cleared_at": alert.cleared_at,
            "details": alert.details,
        }
    )
    return data


def _publish(session: Session, alert: Alert) -> None:
    feed.publish(
        session,
        tenant_id=alert.tenant_id,
        entity="alert",
        key=alert.id,
        branch_id=alert.branch_id,
        data=alert_data(alert),
    )


def raise_alert(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    branch_id: int | None = None,
    product_id: int | None = None,
    details: dict[str, Any],
) -> Alert:
    """Open an alert, or refresh the details of the one already open for the same subject."""
    if not kind or len(kind) > 32:
        raise ValidationFailed("An alert kind is 1 to 32 characters.")
    existing = _open_alert(
        session, tenant_id=tenant_id, kind=kind, branch_id=branch_id, product_id=product_id
    )
    if existing is not None:
        existing.details = jsonable(details)
        return existing
    alert = _new_alert(
        session,
        tenant_id=tenant_id,
        kind=kind,
        branch_id=branch_id,
        product_id=product_id,
        details=details,
    )
    announce(session, [(alert, True)])
    return alert


def _new_alert(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    branch_id: int | None,
    product_id: int | None,
    details: dict[str, Any],
) -> Alert:
    alert = Alert(
        tenant_id=tenant_id,
        kind=kind,
        branch_id=branch_id,
        product_id=product_id,
        status="open",
        opened_at=utcnow(),
        details=jsonable(details),
    )
    session.add(alert)
    session.flush()
    return alert


def announce(session: Session, changes: list[tuple[Alert, bool]]) -> None:
    """Publish changed alerts to their branch's feed; tell people about the newly opened."""
    for alert, opened in changes:
        _publish(session, alert)
        if opened:
            _notify(session, alert)


def _notify(session: Session, alert: Alert) -> None:
    what = alert.details.get("product_name") or alert.details.get("message") or ""
    notifications.notify(
        session,
        tenant_id=alert.tenant_id,
        event=f"alert.{alert.kind}",
        subject=f"{alert.kind.replace('_', ' ').capitalize()}: {what}".strip(": "),
        body=alert.details.get("message", ""),
        payload=alert_data(alert),
        branch_id=alert.branch_id,
        roles=[Role.ADMIN, Role.MANAGER],
    )


def clear_alert(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    branch_id: int | None = None,
    product_id: int | None = None,
) -> Alert | None:
    """Clear the open alert of a subject, if there is one."""
    alert = _open_alert(
        session, tenant_id=tenant_id, kind=kind, branch_id=branch_id, product_id=product_id
    )
    if alert is None:
        return None
    alert.status = "cleared"
    alert.cleared_at = utcnow()
    _publish(session, alert)
    return alert


def evaluate_stock(
    session: Session, *, product: Any, level: StockLevel, limit: Decimal | None = None
) -> list[tuple[Alert, bool]]:
    """Open the stock alert the level calls for and clear the others.

    Returns the alerts that opened (True) or cleared (False) without publishing them, so
    the caller announces them where its locks are taken in order (see announce()).
    """
    if limit is None:
        limit = threshold(session, product=product, branch_id=level.branch_id)
    return evaluate_stock_many(session, items=[(product, level, limit)])[0]


# Built once: building a statement costs more than running it from the compiled cache.
_LIVE_STOCK_ALERTS = (
    select(Alert)
    .where(
        Alert.tenant_id == bindparam("tenant_id"),
        Alert.branch_id == bindparam("branch_id"),
        Alert.product_id.in_(bindparam("product_ids", expanding=True)),
        Alert.kind.in_(STOCK_KINDS),
        Alert.status != "cleared",
    )
    .order_by(Alert.id)
)


# session.info key: a batch's live stock alerts, read once (note_batch):
# (the transaction that read them, tenant id, branch id, {product id: [live alerts]}).
_BATCH_LIVE = "stock_alerts_live"


def note_batch(session: Session, *, tenant_id: int, branch_id: int, product_ids: list[int]) -> None:
    """Read once the live stock alerts of the products a batch of one branch moves (a push).

    Every document's movements are judged against these in memory, and the lists follow
    what the judging opens and clears, so the batch asks the database nothing more. They
    serve only while the transaction that read them is the innermost one: judging under
    any other forgets them.
    """
    ids = sorted(set(product_ids))
    live: dict[int, list[Alert]] = {product_id: [] for product_id in ids}
    for alert in _read_live(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=ids):
        if alert.product_id is not None:  # always: read by product
            live[alert.product_id].append(alert)
    current = session.get_nested_transaction() or session.get_transaction()
    session.info[_BATCH_LIVE] = (current, tenant_id, branch_id, live)


# How many live stock alerts a level's product has at its branch (read with the level's lock).
# The kinds are bound one by one (not a list, which SQLAlchemy expands into the statement's
# text again on every run of the order's lock statement): the same IN, nothing per run.
LIVE_AT_LEVEL = (
    select(func.count())
    .where(
        Alert.tenant_id == StockLevel.tenant_id,
        Alert.branch_id == StockLevel.branch_id,
        Alert.product_id == StockLevel.product_id,
        Alert.kind.in_([literal(kind, String) for kind in STOCK_KINDS]),
        Alert.status != "cleared",
    )
    .correlate(StockLevel)
    .scalar_subquery()
)


def note_none_live(
    session: Session, tenant_id: int, branch_id: int, counts: dict[int, int]
) -> None:
    """Note, as note_batch would find, that the products counted 0 have no live stock alert
    at the branch (counted with their levels' locks, current: ledger.lock_companion), so
    judging their movements reads nothing. Only in the transaction that holds the locks,
    and only when no batch has noted this transaction's alerts already."""
    none = [product_id for product_id, count in counts.items() if count == 0]
    current = session.get_nested_transaction() or session.get_transaction()
    noted = session.info.get(_BATCH_LIVE)
    if not none or (noted is not None and noted[0] is current):
        return
    session.info[_BATCH_LIVE] = (current, tenant_id, branch_id, {pid: [] for pid in none})


def _read_live(
    session: Session, *, tenant_id: int, branch_id: int, product_ids: list[int]
) -> list[Alert]:
    if not product_ids:
        return []
    # The pending rows of a stock movement (movement, level) do not change this answer, so
    # they are not flushed for it; a pending change of an alert would, so that one is.
    if any(isinstance(obj, Alert) for obj in (*session.new, *session.dirty)):
        session.flush()
    with session.no_autoflush:
        return list(
            session.scalars(
                _LIVE_STOCK_ALERTS,
                {"tenant_id": tenant_id, "branch_id": branch_id, "product_ids": product_ids},
            )
        )


def evaluate_stock_many(
    session: Session, *, items: list[tuple[Any, StockLevel, Decimal]]
) -> list[list[tuple[Alert, bool]]]:
    """Judge several (product, level, threshold) of one tenant and branch; changes per item.

    One query reads the live stock alerts of every item's product (none when a batch read
    them already: note_batch): this runs on every movement, so a sale of many lines must
    not pay a query per line. The products must be distinct (a second item of a product
    would not see the first one's changes).
    """
    if not items:
        return []
    first_product, first_level, _ = items[0]
    tenant_id, branch_id = first_product.tenant_id, first_level.branch_id
    noted = session.info.get(_BATCH_LIVE)
    current = session.get_nested_transaction() or session.get_transaction()
    if noted is not None and (noted[0] is not current or noted[1:3] != (tenant_id, branch_id)):
        session.info.pop(_BATCH_LIVE)
        noted = None
    known: dict[int, list[Alert]] = noted[3] if noted is not None else {}
    live = {product.id: list(known.get(product.id, ())) for product, _, _ in items}
    missing = [product_id for product_id in live if product_id not in known]
    for alert in _read_live(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=missing):
        live[alert.product_id].append(alert)
    judged = [
        _judge(session, product=product, level=level, limit=limit, live=live[product.id])
        for product, level, limit in items
    ]
    if noted is not None:
        for (product, _, _), changes in zip(items, judged, strict=True):
            known[product.id] = [
                *(alert for alert in live[product.id] if alert.status != "cleared"),
                *(alert for alert, opened in changes if opened),
            ]
    return judged


def _judge(
    session: Session, *, product: Any, level: StockLevel, limit: Decimal, live: list[Alert]
) -> list[tuple[Alert, bool]]:
    """Clear the live alerts the level no longer calls for; open or refresh the one it does."""
    limit = Decimal(str(limit))
    available = level.available
    if level.on_hand < 0:
        wanted = NEGATIVE_STOCK
    elif available <= 0:
        wanted = OUT_OF_STOCK
    elif available < limit:
        wanted = LOW_STOCK
    else:
        wanted = None
    now = utcnow()
    changes: list[tuple[Alert, bool]] = []
    for alert in live:
        if alert.kind != wanted:
            alert.status = "cleared"
            alert.cleared_at = now
            changes.append((alert, False))
    if wanted is None:
        return changes
    details = jsonable(
        {
            "product_name": product.name,
            "sku": product.sku,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "available": available,
            "threshold": limit,
            "message": f"{product.name} ({product.sku}): {plain_str(available)} "
            f"available, threshold {plain_str(limit)}.",
        }
    )
    current = next((alert for alert in live if alert.kind == wanted), None)
    if current is not None:
        current.details = details
        return changes
    opened = _new_alert(
        session,
        tenant_id=product.tenant_id,
        kind=wanted,
        branch_id=level.branch_id,
        product_id=product.id,
        details=details,
    )
    return [*changes, (opened, True)]


def acknowledge(session: Session, *, actor: Actor, tenant_id: int, alert_id: int) -> Alert:
    """Mark an open alert as seen; it still clears by itself when the cause goes away."""
    alert = get_owned(session, Alert, id=alert_id, tenant_id=tenant_id, what="alert")
    if alert.status != "open":
        raise InvalidState(
            f"Alert {alert_id} is {alert.status}; only an open alert is acknowledged."
        )
    alert.status = "acknowledged"
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = actor.user_id
    _publish(session, alert)
    audit.record(
        session,
        actor=actor,
        action="alert.acknowledge",
        entity_type="alert",
        entity_id=alert.id,
        before={"status": "open"},
        after={"status": "acknowledged"},
    )
    return alert
