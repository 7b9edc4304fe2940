"""The chain message record() builds from the record message is the one verify computes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from sync_server.audit import service as audit


def _entry(**content: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "tenant_id": 7,
        "at": datetime(2026, 12, 4, 18, 30, 1, 123456, tzinfo=UTC),
        "actor_id": None,
        "actor": "device:Till 1",
        "device_id": "0193a0b2-0000-7000-8000-000000000001",
        "action": "stock.sale",
        "entity_type": "stock_movement",
        "entity_id": "0193a0b2-0000-7000-8000-000000000002",
        "before": None,
        "after": None,
        "nonce": "ab" * 16,
        "key_id": "k1",
        "record_mac": "cd" * 32,
        "seq": 41,
        "prev_hash": "ef" * 32,
    }
    values.update(content)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"before": {"on_hand": "3", "branch_id": 2}, "after": {"on_hand": "2", "reason": None}},
        # Text that looks like the keys being spliced, nested and in values.
        {
            "after": {"tenant_id": 9, "z": ',"tenant_id":1}', "nested": [{"tenant_id": "x"}]},
            "entity_id": ',"tenant_id":',
        },
        {"actor": 'caf\u00e9 \u202e\U0001f600 "quoted" \\', "actor_id": 12, "seq": 1},
        {"after": {"total": Decimal("10.50"), "at": datetime(2026, 1, 1, tzinfo=UTC)}},
        {"tenant_id": 123456789012, "prev_hash": audit.GENESIS},
    ],
)
def test_the_chain_message_spliced_from_the_record_message_is_byte_identical(
    content: dict[str, object],
) -> None:
    entry = _entry(**content)
    record_message = audit._record_message(entry)  # type: ignore[arg-type]
    spliced = audit._chain_message_from(record_message, entry)  # type: ignore[arg-type]
    assert spliced == audit._chain_message(entry)  # type: ignore[arg-type]
