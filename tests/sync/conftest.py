"""Sync test helpers: enrol a till, put stock on a shelf, build till events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from common.codes import MovementCode
from common.ids import new_id
from common.sync.protocol import Event
from sync_server.db import transaction
from sync_server.inventory import ledger
from tests.factories import Api, World
from tests.invariants import check_ledger


@pytest.fixture(autouse=True)
def ledger_invariant(request: pytest.FixtureRequest):
    """After a test that used a server database, every level must equal its movements."""
    if "engine" not in request.fixturenames:
        yield
        return
    engine = request.getfixturevalue("engine")
    yield
    check_ledger(engine)


@pytest.fixture
def enrol(world: World) -> Callable[..., tuple[dict[str, Any], Api]]:
    """Return a function that enrols a till at a branch of tenant A: (answer, device api)."""

    def _enrol(branch_id: int | None = None, name: str = "Till 1") -> tuple[dict[str, Any], Api]:
        admin = world.api("admin")
        branch_id = branch_id or world.a.branch_ids[0]
        code = admin.post("devices/enrolment-codes", json={"branch_id": branch_id})
        assert code.status_code == 201, code.text
        answer = Api(world.client, None).post(
            "devices/enrol", json={"code": code.json()["code"], "name": name}
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body, Api(world.client, body["token"])

    return _enrol


@pytest.fixture
def stock_in(world: World) -> Callable[..., None]:
    """Return a function that receives stock of a product into a branch of tenant A."""

    def _stock_in(*, product_id: int, branch_id: int, quantity: str) -> None:
        with transaction(world.sessions()) as session:
            ledger.record_movement(
                session,
                actor=world.principal("admin").actor,
                branch_id=branch_id,
                product_id=product_id,
                code=MovementCode.RECEIPT,
                quantity=Decimal(quantity),
                reference_type="test",
                reference_id=new_id(),
            )

    return _stock_in


@pytest.fixture
def wrap() -> Callable[..., dict[str, Any]]:
    """Return a function that puts a payload in an envelope as JSON for /sync/push."""

    def _wrap(payload, *, device_id: str) -> dict[str, Any]:
        return Event.wrap(payload, device_id=device_id).model_dump(mode="json")

    return _wrap
