"""POST /orders places an ordinary order without FastAPI's dependency solving, and answers
everything else exactly as FastAPI's own handler does (sync_server/orders/routes.py).

Each request is sent twice: once as the server takes it, once with the ordinary course
switched off (every request handed to FastAPI's handler). Both answers must match: status,
content type, the problem document whole, and an order's figures. The ordinary course must
really be taken by the ordinary orders (and by a wrong role's, a stranger's, a replay's),
and never by the others.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from sync_server.orders import routes
from tests.factories import Api
from tests.server.test_orders import level, order_body, stock, store

# What differs between two placed orders however they were placed.
_PLACED_APART = {"id", "external_number", "created_at", "updated_at", "reserved_until"}


def _comparable(answer) -> tuple:
    media = answer.headers.get("content-type")
    if not answer.content:
        return answer.status_code, media, None
    body = answer.json()
    if answer.status_code == 201:
        lines = [
            {k: v for k, v in line.items() if k not in ("id", "order_id")} for line in body["lines"]
        ]
        body = {k: v for k, v in body.items() if k not in _PLACED_APART} | {"lines": lines}
    elif body.get("type", "").endswith("/insufficient-stock"):
        # What is left differs: the other run's orders reserved some of it.
        body["detail"] = re.sub(r"\d+ available", "N available", body["detail"])
        body["lines"] = [{**line, "available": "N"} for line in body["lines"]]
    return answer.status_code, media, answer.headers.get("idempotent-replayed"), body


@pytest.fixture
def taken(monkeypatch) -> list[bool]:
    """Record, for each request, whether it took the ordinary course."""
    seen: list[bool] = []
    real = routes._ordinary_order

    async def spy(request, body_field):
        data = await real(request, body_field)
        seen.append(data is not None)
        return data

    monkeypatch.setattr(routes, "_ordinary_order", spy)
    return seen


def _switched_off(monkeypatch) -> None:
    async def never(request, body_field):
        return None

    monkeypatch.setattr(routes, "_ordinary_order", never)


def _send(api: Api, case: str, run: str):
    """Send one case; `run` keeps the two runs' keys and numbers apart where they must be."""
    key = f"{case}-{run}-{uuid.uuid4()}"
    body = order_body(f"{case}-{run}", ("ADMIN-0", "1"))
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    content: bytes | None = json.dumps(body).encode()
    if case == "charset":
        headers["Content-Type"] = "application/json; charset=utf-8"
    elif case == "no-lines":
        content = json.dumps({**body, "lines": []}).encode()
    elif case == "a-list":
        content = b"[]"
    elif case == "malformed":
        content = b'{"external_number": '
    elif case == "empty-body":
        content = None
    elif case == "text-plain":
        headers["Content-Type"] = "text/plain"
    elif case == "no-content-type":
        del headers["Content-Type"]
    elif case == "empty-key":
        headers["Idempotency-Key"] = ""
    elif case == "long-key":
        headers["Idempotency-Key"] = "k" * 256
    elif case == "longest-key":
        headers["Idempotency-Key"] = f"{run}-".ljust(255, "k")
    elif case == "no-key":
        del headers["Idempotency-Key"]
    elif case == "unknown-sku":
        content = json.dumps(order_body(f"{case}-{run}", ("NOPE-1", "1"))).encode()
    elif case == "too-many":
        content = json.dumps(order_body(f"{case}-{run}", ("ADMIN-0", "999"))).encode()
    elif case == "wrong-branch":
        content = json.dumps({**body, "branch_code": "NOWHERE"}).encode()
    elif case == "extra-field":
        content = json.dumps({**body, "unknown": 1}).encode()
    return api.post("orders", content=content, headers=headers)


# (case, takes the ordinary course)
CASES = [
    ("ordinary", True),
    ("charset", True),
    ("longest-key", True),
    ("unknown-sku", True),
    ("too-many", True),
    ("wrong-branch", True),
    ("extra-field", False),
    ("no-lines", False),
    ("a-list", False),
    ("malformed", False),
    ("empty-body", False),
    ("text-plain", False),
    ("no-content-type", False),
    ("empty-key", False),
    ("long-key", False),
    ("no-key", False),
]


def test_every_answer_is_fastapis_own(world, monkeypatch, taken):
    stock(world, quantity="100")
    shop = store(world)
    got = {}
    for case, ordinary in CASES:
        taken.clear()
        got[case] = _send(shop, case, "course")
        assert taken == [ordinary], (case, got[case].text)
    placed = {case for case, answer in got.items() if answer.status_code == 201}
    assert placed == {"ordinary", "charset", "longest-key"}, got
    assert level(world) == (100, 3)
    _switched_off(monkeypatch)
    for case, _ in CASES:
        theirs = _send(shop, case, "fastapi")
        assert _comparable(got[case]) == _comparable(theirs), case
        if got[case].status_code >= 400:
            assert got[case].headers["content-type"] == "application/problem+json", case
    assert level(world) == (100, 6)


def test_callers_refused_on_the_ordinary_course_as_by_fastapi(world, monkeypatch, taken):
    stock(world, quantity="10")
    reader = store(world, scopes=("catalog:read",))
    stranger = Api(world.client, "sp_not-a-key-at-all")
    nobody = Api(world.client, None)
    clerk = world.api("admin")  # a user's token: allowed to place orders or not by its role
    callers = {"reader": reader, "stranger": stranger, "nobody": nobody, "clerk": clerk}
    got = {}
    for name, caller in callers.items():
        taken.clear()
        got[name] = _send(caller, "ordinary", "course")
        assert taken == [True], name
    assert got["reader"].status_code == 403
    assert got["reader"].json()["required_permission"] == "orders.write"
    assert got["stranger"].status_code == 401 and got["nobody"].status_code == 401
    _switched_off(monkeypatch)
    for name, caller in callers.items():
        theirs = _send(caller, "ordinary", "fastapi")
        assert _comparable(got[name]) == _comparable(theirs), name


def test_a_replay_and_a_reused_key_on_the_ordinary_course(world, taken):
    stock(world, quantity="10")
    shop = store(world)
    body = order_body("REPLAY-1", ("ADMIN-0", "2"))
    first = shop.post("orders", json=body, headers={"Idempotency-Key": "same"})
    again = shop.post("orders", json=body, headers={"Idempotency-Key": "same"})
    other = shop.post("orders", json=order_body("REPLAY-2"), headers={"Idempotency-Key": "same"})
    assert taken == [True, True, True]
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert other.status_code == 422 and "already used" in other.json()["detail"], other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert level(world) == (10, 2)
