"""The shop and branch as documents print them, from the server's profile in the replica.

The server sends the business's profile settings (trade and legal name, phone, e-mail,
receipt header and footer) and the till's branch (address, GSTIN, state) through the change
feed; till.json's shop name and address are only what a till shows before its first sync.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_client.config import ShopInfo
from pos_client.store.models import ReplicaRow, Setting, SyncState
from pos_client.store.plain_sql import run_sql


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def branch_profile(session: Session) -> dict[str, Any]:
    """Return this till's branch as last synced ({} before the first sync)."""
    # The sync state read directly: documents (and the sync protocol) stay unloaded at start-up.
    state = session.get(SyncState, 1)
    branch_id = state.branch_id if state is not None else None
    if not branch_id:
        return {}
    row = session.get(ReplicaRow, ("branch", str(branch_id)))
    return dict(row.data or {}) if row is not None else {}


def shop_profile(session: Session, *, fallback: ShopInfo) -> ShopInfo:
    """Return what documents say about the shop: the synced profile over till.json's."""
    values: dict[str, Any] = dict(session.execute(select(Setting.key, Setting.value)).all())
    return _compose(values=values, branch=branch_profile(session), fallback=fallback)


# A sale reads the settings and its branch in one statement (see plain_sql for why).
_SALE_PROFILE = (
    "SELECT key, value FROM settings UNION ALL "
    "SELECT NULL, data FROM replica_rows WHERE entity = 'branch' AND key = ?"
)


def sale_profile(
    session: Session, *, fallback: ShopInfo, branch_id: int
) -> tuple[ShopInfo, dict[str, Any]]:
    """Return shop_profile's answer and the branch as synced, read as a sale needs them."""
    connection = session.connection()
    # Decoded as SQLAlchemy decodes the JSON columns (both are JSON; one processor serves).
    load = Setting.__table__.c.value.type.dialect_impl(connection.dialect).result_processor(
        connection.dialect, None
    )
    values: dict[str, Any] = {}
    branch: dict[str, Any] = {}
    for key, raw in run_sql(connection, _SALE_PROFILE, (str(branch_id),)):
        value = load(raw) if load is not None else raw
        if key is None:
            branch = dict(value or {})
        else:
            values[key] = value
    return _compose(values=values, branch=branch, fallback=fallback), branch


def _compose(*, values: dict[str, Any], branch: dict[str, Any], fallback: ShopInfo) -> ShopInfo:
    if not values and not branch:
        return fallback
    name = _text(values.get("trade_name")) or fallback.shop_name
    address = [
        part for part in (_text(branch.get("address")), _text(branch.get("city"))) if part
    ] or list(fallback.address_lines)
    phone = _text(branch.get("phone")) or _text(values.get("shop_phone"))
    email = _text(branch.get("email")) or _text(values.get("shop_email"))
    contact = "  ".join(p for p in (f"Ph {phone}" if phone else "", email) if p)
    gstin = _text(branch.get("gstin"))
    state, state_code = _text(branch.get("state")), _text(branch.get("state_code"))
    lines = [*address]
    if contact:
        lines.append(contact)
    if gstin:
        lines.append(f"GSTIN {gstin}")
    if state:
        lines.append(f"State {state} ({state_code})" if state_code else f"State {state}")
    header = _text(values.get("receipt_header"))
    if header:
        lines.append(header)
    footer = values.get("receipt_footer")
    return replace(
        fallback,
        shop_name=name,
        branch_name=_text(branch.get("name")) or fallback.branch_name,
        address_lines=tuple(lines),
        footer=_text(footer) if footer is not None else fallback.footer,
        currency=_text(values.get("currency")) or fallback.currency,
        legal_name=_text(values.get("legal_name")),
        gstin=gstin,
        state_code=state_code,
        state=state,
    )


def header_rows(shop: ShopInfo) -> list[tuple[str, str]]:
    """Return a report's heading rows naming the shop (an empty value is a heading)."""
    rows = [(shop.shop_name, "")] if shop.shop_name else []
    if shop.branch_name:
        rows.append((shop.branch_name, ""))
    rows += [(line, "") for line in shop.address_lines]
    return rows
