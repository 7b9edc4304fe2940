"""In-transaction events: a domain says what happened, and the domains above it act on it.

A publisher calls ``publish(event)`` inside its caller's transaction; every receiver of the
event's type runs there and then, in the order they subscribed, so what they write commits
or rolls back with the change itself (the eventsourcing library's lesson: a change and its
consequences are recorded atomically). The publisher knows the event's type, never its
receivers, so a lower domain (inventory) reaches a higher one (alerts) without importing it.

A domain subscribes in its ``receivers.py`` when that module is imported. ``publish`` has
``domains.load_receivers`` import every domain's receivers before the first event goes out,
so every process (the server, the worker, a CLI command, a test, a benchmark) has them all,
whichever modules it happened to import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sync_server.domains import load_receivers

E = TypeVar("E")
Receiver = Callable[[E], None]

_RECEIVERS: dict[type, list[Callable[[Any], None]]] = {}


def subscribe(event_type: type[E]) -> Callable[[Receiver[E]], Receiver[E]]:
    """Return a decorator that makes a function receive every published event of a type."""

    def register(receiver: Receiver[E]) -> Receiver[E]:
        receivers = _RECEIVERS.setdefault(event_type, [])
        if receiver not in receivers:
            receivers.append(receiver)
        return receiver

    return register


def publish(event: object) -> None:
    """Hand an event to each of its receivers, in the caller's transaction."""
    load_receivers()
    for receiver in _RECEIVERS.get(type(event), ()):
        receiver(event)


def receivers(event_type: type) -> list[Callable[[Any], None]]:
    """Return who receives an event type, in the order they run (for tests and docs)."""
    load_receivers()
    return list(_RECEIVERS.get(event_type, ()))
