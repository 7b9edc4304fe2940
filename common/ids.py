"""Time-ordered UUIDv7 ids, made where a document is born (till or server)."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7 (RFC 9562): 48-bit Unix ms, then a counter, then randomness.

    Ids made in the same millisecond by one process stay ordered thanks to a
    12-bit counter seeded randomly each millisecond (RFC 9562 method 1).
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return uuid.UUID(int=value)


def new_id() -> str:
    """Return a new UUIDv7 as its canonical string."""
    return str(uuid7())


def uuid7_time_ms(value: uuid.UUID | str) -> int:
    """Return the Unix milliseconds embedded in a UUIDv7."""
    as_int = (value if isinstance(value, uuid.UUID) else uuid.UUID(value)).int
    return as_int >> 80
