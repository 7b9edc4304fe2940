"""Server test fixtures: the stock ledger is checked after every test that used a database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.invariants import check_ledger


@pytest.fixture(autouse=True)
def ledger_invariant(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test, assert that every stock level equals the sum of its movements."""
    if "engine" not in request.fixturenames:
        yield
        return
    # Taken before the test runs, so the engine outlives this check at teardown.
    engine = request.getfixturevalue("engine")
    yield
    check_ledger(engine)
