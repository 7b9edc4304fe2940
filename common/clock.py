"""Clocks that disagree: how far off a till is, in words people use (no other imports)."""

from __future__ import annotations

# Beyond this a clock is wrong, not just drifting: managers are told and the cashier is warned.
CLOCK_SKEW_LIMIT_SECONDS = 300


def describe_skew(seconds: float) -> str:
    """Say how far a clock is off in words: "3 days behind", "2 hours 5 minutes ahead of"."""
    ahead = seconds > 0
    left = round(abs(seconds))
    if left >= 60:  # a clock that is a day off is "1 day", not "23 hours 59 minutes"
        left = round(left / 60) * 60
    parts: list[str] = []
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if left >= size and len(parts) < 2:
            count, left = divmod(left, size)
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    amount = " ".join(parts) or f"{left} seconds"
    return f"{amount} {'ahead of' if ahead else 'behind'}"
