"""What the till says about a label's expiry date: expired goods are flagged, not sold blind."""

from __future__ import annotations

from datetime import date


def expiry_warning(attributes: dict[str, str], *, today: date) -> str | None:
    """Return a cashier's warning when the label's expiry (GS1 AI 17) has passed, else None."""
    text = attributes.get("expiry")
    if not text:
        return None
    try:
        expiry = date.fromisoformat(text)
    except ValueError:
        return None
    if expiry >= today:
        return None
    lot = attributes.get("lot")
    which = f" (lot {lot})" if lot else ""
    return (
        f"Expired on {expiry.day} {expiry:%b %Y}{which} — take it off the shelf; "
        "remove the line unless a manager says otherwise"
    )
