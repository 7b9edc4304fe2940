"""A till's receipt series as this server holds it, so a restored till does not reuse numbers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.sync.series import DeviceSeries, series_number
from sync_server.sales.models import Return, Sale
from sync_server.sync.models import DeadLetter, Device


def device_series(session: Session, *, device: Device) -> DeviceSeries:
    """Return the highest receipt number of the device's series on record here."""
    prefix = device.receipt_prefix
    like = f"{prefix}-%"
    numbers: list[str] = []
    for model in (Sale, Return):
        # Zero-padded numbers of one series sort as text.
        top = session.scalar(
            select(func.max(model.receipt_number)).where(
                model.tenant_id == device.tenant_id,
                model.device_id == device.id,
                model.receipt_number.like(like),
            )
        )
        if top:
            numbers.append(top)
    # A refused sale (a dead letter) used its number too.
    for payload in session.scalars(
        select(DeadLetter.payload).where(
            DeadLetter.tenant_id == device.tenant_id, DeadLetter.device_id == device.id
        )
    ):
        number = ((payload or {}).get("payload") or {}).get("receipt_number")
        if isinstance(number, str):
            numbers.append(number)
    seqs = [n for n in (series_number(x, prefix=prefix) for x in numbers) if n is not None]
    return DeviceSeries(receipt_prefix=prefix, last_receipt_seq=max(seqs, default=0))
