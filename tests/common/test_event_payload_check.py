"""An event's payload text is checked once: by the envelope's validation, or by parsed()."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from common.ids import new_id
from common.sync.protocol import Event, SaleCompleted, SaleLine, SalePayment


def _sale(name: str = "Tea") -> SaleCompleted:
    line = SaleLine(
        line_id=new_id(),
        product_id=1,
        sku="T1",
        name=name,
        quantity=Decimal("1"),
        unit_price=Decimal("2.50"),
        total=Decimal("2.50"),
    )
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number="R-1",
        branch_id=1,
        lines=[line],
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=Decimal("2.50"))],
        subtotal=Decimal("2.50"),
        total=Decimal("2.50"),
    )


def _wire(payload: dict) -> dict:
    envelope = Event.wrap(_sale(), device_id="till-1").model_dump(mode="json")
    return {**envelope, "payload": payload}


def test_a_validated_event_parses_to_what_full_validation_gives() -> None:
    wire = Event.wrap(_sale(), device_id="till-1").model_dump(mode="json")
    event = Event.model_validate(wire)
    assert event._checked_payload is event.payload  # parsed() skips the second walk
    assert event.parsed() == SaleCompleted.model_validate(wire["payload"])
    # Whitespace is still stripped and types still enforced, only the text walk is skipped.
    payload = {**wire["payload"], "receipt_number": "  R-2  "}
    assert Event.model_validate({**wire, "payload": payload}).parsed().receipt_number == "R-2"
    bad_total = {**wire["payload"], "total": 2.5}
    with pytest.raises(ValidationError, match="not a JSON number"):
        Event.model_validate({**wire, "payload": bad_total}).parsed()


def test_a_control_character_in_a_payload_is_refused_by_the_envelope() -> None:
    payload = _sale().model_dump(mode="json")
    payload["lines"][0]["name"] = "Tea\x00"
    with pytest.raises(ValidationError, match="NUL byte"):
        Event.model_validate(_wire(payload))


def test_a_payload_the_envelope_did_not_check_is_checked_by_parsed() -> None:
    payload = _sale().model_dump(mode="json")
    payload["lines"][0]["name"] = "Tea\u202e"
    # Constructed (not validated), or given a new payload after validation: checked in full.
    built = Event.model_construct(**_wire(payload))
    with pytest.raises(ValidationError, match="bidirectional"):
        built.parsed()
    valid = Event.model_validate(_wire(_sale().model_dump(mode="json")))
    swapped = valid.model_copy(update={"payload": payload})
    with pytest.raises(ValidationError, match="bidirectional"):
        swapped.parsed()
