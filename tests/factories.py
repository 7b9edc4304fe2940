"""Build test data through the real services, and call the API as a given user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from httpx import Response
from sqlalchemy import Engine, event

from common.barcodes import make_ean13
from common.ids import new_id
from common.roles import Role
from common.schemas.auth import UserCreate
from common.schemas.catalog import ProductCreate
from common.schemas.org import BranchCreate
from common.sync.protocol import Event, SaleCompleted, SaleLine, SalePayment
from sync_server.auth import service as auth_service
from sync_server.catalog import service as catalog
from sync_server.db import make_sessionmaker, transaction
from sync_server.foundation.principal import Principal
from sync_server.org import service as org
from sync_server.ratelimit.middleware import RateLimit
from tests.asgi import TestClient

PASSWORD = "correct horse battery"


# The trip through the thread pool a rate-limit counter kept in the database takes, in the
# middleware before the route, one per request (PostgreSQL's default without Redis); the
# `trips` fixture (tests/conftest.py) names each trip so.
RATE_COUNTER_TRIP = "RateLimit._check.<locals>.<lambda>"


class Api:
    """An HTTP client that sends one user's token with every request."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@dataclass
class TenantData:
    id: int
    branch_ids: list[int]
    product_ids: list[int] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)


@dataclass
class World:
    """Two tenants: 'a' (the one under test) with users of every role, and 'b' (a stranger)."""

    engine: Engine
    client: TestClient
    a: TenantData
    b: TenantData
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = login(self.client, username)
        return self._tokens[username]

    def api(self, username: str) -> Api:
        """Return a client logged in as username (e.g. 'admin', 'manager', 'b_admin')."""
        return Api(self.client, self.token(username))

    def principal(self, username: str = "admin") -> Principal:
        """Return a principal to call services directly as that user."""
        tenant = self.b if username.startswith("b_") else self.a
        role = (
            "admin"
            if username.endswith("admin") and username in ("admin", "b_admin")
            else username.removeprefix("b_")
        )
        return Principal.for_user(
            tenant_id=tenant.id,
            user_id=tenant.users[username],
            username=username,
            role=role,
            branch_ids=[],
        )

    def sessions(self):
        return make_sessionmaker(self.engine)


def _make_tenant(session, *, name: str, prefix: str, roles: list[Role]) -> TenantData:
    tenant = org.create_tenant(session, name=name)
    data = TenantData(id=tenant.id, branch_ids=[])
    for code in ("MAIN", "WEST"):
        branch = org.create_branch(
            session,
            actor=None,
            tenant_id=tenant.id,
            data=BranchCreate(name=f"{name} {code}", code=code),
        )
        data.branch_ids.append(branch.id)
    for role in roles:
        username = f"{prefix}{role.value}"
        user = auth_service.create_user(
            session,
            actor=None,
            tenant_id=tenant.id,
            data=UserCreate(
                username=username,
                password=PASSWORD,
                pin="1234",
                role=role,
                branch_ids=[] if role == Role.ADMIN else [data.branch_ids[0]],
            ),
        )
        data.users[username] = user.id
    return data


def build_world(engine: Engine, client: TestClient) -> World:
    """Create the two tenants, their users and a few products."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        a = _make_tenant(session, name="Tenant A", prefix="", roles=list(Role))
        b = _make_tenant(session, name="Tenant B", prefix="b_", roles=[Role.ADMIN])
    world = World(engine=engine, client=client, a=a, b=b)
    with transaction(factory) as session:
        for tenant, who in ((a, "admin"), (b, "b_admin")):
            actor = world.principal(who)
            for i in range(3):
                product = catalog.create_product(
                    session,
                    actor=actor,
                    data=make_product(
                        sku=f"{who.upper()}-{i}",
                        name=f"Product {i} of {who}",
                        barcode=make_ean13(f"{4000000000 + tenant.id * 100 + i:012d}"),
                    ),
                )
                tenant.product_ids.append(product.id)
    return world


def make_product(
    *,
    sku: str,
    name: str,
    barcode: str | None = None,
    price: str = "10.00",
    **extra: Any,
) -> ProductCreate:
    return ProductCreate(
        sku=sku, name=name, price=Decimal(price), barcodes=[barcode] if barcode else [], **extra
    )


def one_line_sale_event(
    *, device_id: str, branch_id: int, product_id: int, receipt: str
) -> dict[str, Any]:
    """Return a till's push event for a sale of one soap at 10.00 paid in cash (JSON form)."""
    line = SaleLine(
        line_id=new_id(),
        product_id=product_id,
        sku="S",
        name="Soap",
        quantity=Decimal("1"),
        unit_price=Decimal("10.00"),
        total=Decimal("10.00"),
    )
    sale = SaleCompleted(
        sale_id=new_id(),
        receipt_number=receipt,
        branch_id=branch_id,
        lines=[line],
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=line.total)],
        subtotal=line.total,
        total=line.total,
        completed_at=datetime.now(UTC),
    )
    return Event.wrap(sale, device_id=device_id).model_dump(mode="json")


def hold_rate_limit_window(app: FastAPI) -> float:
    """Stop the app's rate-limit clock a second into the current minute's window; return it.

    A burst then counts in one window however long it takes and whenever it starts (the
    tests used to wait out the end of a minute first: up to 15 s).
    """
    limiter = next(m.kwargs["limiter"] for m in app.user_middleware if m.cls is RateLimit)
    now = time.time()
    held = now - now % 60 + 1
    limiter.clock = lambda: held
    return held


@contextmanager
def sent_statements(engine: Engine) -> Iterator[list[str]]:
    """Record the SQL text of every statement sent on `engine` within the block."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
