"""Server test fixtures: a light stock world, and the ledger checked after every DB test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from common.barcodes import make_ean13
from common.ids import new_id
from common.roles import Permission
from common.schemas.org import BranchCreate
from sync_server.auth.models import User, UserBranch
from sync_server.auth.security import issue_access_token
from sync_server.catalog import service as catalog
from sync_server.config import Settings
from sync_server.db import make_sessionmaker, transaction
from sync_server.foundation.principal import Actor, Principal
from sync_server.inventory.ledger import LOCK_ORDER_WARNINGS
from sync_server.org import service as org
from tests.asgi import TestClient
from tests.factories import Api, make_product
from tests.invariants import check_ledger


@pytest.fixture(autouse=True)
def ledger_invariant(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test, assert that every stock level equals the sum of its movements."""
    if "engine" not in request.fixturenames:
        yield
        return
    # Taken before the test runs, so the engine outlives this check at teardown.
    engine = request.getfixturevalue("engine")
    LOCK_ORDER_WARNINGS.clear()
    yield
    check_ledger(engine)
    # Every path locked its stock up front, in the one global order (inventory.lock_levels).
    assert not LOCK_ORDER_WARNINGS, list(LOCK_ORDER_WARNINGS)


@dataclass
class StockWorld:
    """One tenant with two branches and three products, built without users (no hashing)."""

    engine: Engine
    tenant_id: int
    branch_ids: list[int]
    product_ids: list[int]
    barcodes: list[str]
    factory: sessionmaker[Session] = field(repr=False)
    other_tenant_id: int = 0
    other_product_id: int = 0
    client: TestClient | None = field(default=None, repr=False)
    secret: str = field(default="", repr=False)

    @property
    def actor(self) -> Actor:
        return Actor(tenant_id=self.tenant_id, user_id=None, label="stock-tester")

    def tx(self):
        """Return a context manager running one committed transaction."""
        return transaction(self.factory)

    def api(
        self,
        role: str = "admin",
        *,
        branches: list[int] | None = None,
        tenant_id: int | None = None,
    ) -> Api:
        """Return an API client for a new user of that role (token minted, no password)."""
        assert self.client is not None, "use the 'shop' fixture for API calls"
        tenant_id = tenant_id or self.tenant_id
        with self.tx() as session:
            user = User(
                tenant_id=tenant_id,
                username=f"{role}-{new_id()[-12:]}",
                password_hash="!unusable",
                role=role,
                active=True,
                branch_links=[
                    UserBranch(tenant_id=tenant_id, branch_id=branch_id)
                    for branch_id in branches or []
                ],
            )
            session.add(user)
            session.flush()
            user_id = user.id
        token, _ = issue_access_token(
            secret=self.secret, user_id=user_id, tenant_id=tenant_id, minutes=15
        )
        return Api(self.client, token)


@pytest.fixture
def stock(engine: Engine) -> StockWorld:
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        tenant = org.create_tenant(session, name="Stock Shop")
        principal = Principal(
            tenant_id=tenant.id,
            kind="user",
            label="stock-tester",
            role="admin",
            all_branches=True,
            permissions=frozenset(Permission),
        )
        branch_ids = [
            org.create_branch(
                session,
                actor=None,
                tenant_id=tenant.id,
                data=BranchCreate(name=f"Stock {code}", code=code),
            ).id
            for code in ("MAIN", "WEST")
        ]
        barcodes = [make_ean13(f"{2900000000 + i:012d}") for i in range(3)]
        product_ids = [
            catalog.create_product(
                session,
                actor=principal,
                data=make_product(sku=f"STK-{i}", name=f"Stock item {i}", barcode=barcodes[i]),
            ).id
            for i in range(3)
        ]
        other = org.create_tenant(session, name="Other Shop")
        other_product = catalog.create_product(
            session,
            actor=Principal(
                tenant_id=other.id,
                kind="user",
                label="other",
                role="admin",
                all_branches=True,
                permissions=frozenset(Permission),
            ),
            data=make_product(sku="OTH-0", name="Someone else's item"),
        )
    return StockWorld(
        engine,
        tenant.id,
        branch_ids,
        product_ids,
        barcodes,
        factory,
        other_tenant_id=other.id,
        other_product_id=other_product.id,
    )


@pytest.fixture
def shop(stock: StockWorld, client: TestClient, settings: Settings) -> StockWorld:
    """The stock world with API clients: shop.api("manager", branches=[...])."""
    stock.client = client
    stock.secret = settings.resolved_secret_key
    return stock
