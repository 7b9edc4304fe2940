"""The server process's background loops: each in a thread of its own, stopped at shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any


def repeat(
    step: Callable[[], object],
    *,
    stop: threading.Event,
    interval: float,
    log: logging.Logger,
    failure: str,
) -> None:
    """Run step every interval until stop is set; a failed round is logged and retried.

    The loop must outlive a lost connection or a bad row, so every exception is caught and
    logged with the failure text (the caller's own logger, so its name says whose loop it is).
    """
    while not stop.is_set():
        try:
            step()
        except Exception:  # noqa: BLE001 - the loop must outlive a lost connection
            log.exception(failure)
        stop.wait(interval)


def start(name: str, target: Callable[..., None], **kwargs: Any) -> Callable[[], None]:
    """Start target(stop=…, **kwargs) in a daemon thread; return the function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=target, kwargs={**kwargs, "stop": stop}, name=name, daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=10)

    return halt
