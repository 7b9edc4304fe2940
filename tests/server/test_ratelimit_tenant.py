"""A business sets its own read and write limits; other businesses keep the server's."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from sync_server.audit.models import AuditEntry
from sync_server.db import make_sessionmaker, transaction
from sync_server.main import create_app
from sync_server.org import service as org
from sync_server.partners.models import Supplier
from sync_server.ratelimit.service import Limit, TenantLimits
from tests.asgi import TestClient
from tests.factories import Api, build_world, hold_rate_limit_window


def _put(api: Api, value):
    return api.put("settings/rate_limits", json={"value": value})


def test_a_tenants_lower_read_limit_holds_its_callers_and_not_other_tenants(world, client):
    admin = world.api("admin")
    saved = _put(admin, {"read": 5, "write": 3})
    assert saved.status_code == 200, saved.text
    assert saved.json()["value"] == {"read": 5, "write": 3}
    assert admin.get("settings").json()["rate_limits"] == {"read": 5, "write": 3}

    hold_rate_limit_window(client.app)  # the burst counts in one window
    viewer = world.api("viewer")
    statuses = [viewer.get("branches").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = viewer.get("branches")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Limit"] == "5"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert "at most 5" in refused.json()["detail"]

    # An API key of the same business is held to the same limit (its tenant is looked up).
    key = admin.post("api-keys", json={"name": "shop", "scopes": ["catalog:read"]}).json()["key"]
    by_key = [
        client.get("/api/v1/products", headers={"X-API-Key": key}).status_code for _ in range(6)
    ]
    assert by_key == [200] * 5 + [429]

    # Tenant B never changed its limits: the same burst and more passes, at the server's limit.
    stranger = world.api("b_admin")
    answers = [stranger.get("branches") for _ in range(12)]
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].headers["RateLimit-Limit"] == str(
        client.app.state.settings.rate_limit_read_per_minute
    )


def test_a_refused_write_burst_changes_nothing(world, engine):
    assert _put(world.api("admin"), {"write": 3}).status_code == 200
    hold_rate_limit_window(world.client.app)
    buyer = world.api("purchase_admin")
    answers = [buyer.post("suppliers", json={"name": f"Burst {i}"}) for i in range(6)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
    assert all(a.headers["RateLimit-Limit"] == "3" for a in answers)
    assert answers[-1].headers["Retry-After"]
    with transaction(make_sessionmaker(engine), readonly=True) as session:
        names = session.scalars(
            select(Supplier.name).where(Supplier.tenant_id == world.a.id).order_by(Supplier.name)
        ).all()
        created = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == world.a.id, AuditEntry.entity_type == "supplier")
        )
    assert names == ["Burst 0", "Burst 1", "Burst 2"]
    assert created == 3
    # Reads have their own budget, at the server's limit since only writes were lowered.
    assert buyer.get("suppliers").status_code == 200


BAD_SHAPES = [
    ({"read": 0}, "between 1 and"),
    ({"read": "5"}, "whole number"),
    ({"write": True}, "whole number"),
    ({"reed": 5}, "knows only read, write"),
    ({"login": 5}, "login limit"),
    ([5], "takes a dict"),
]


def test_bad_shapes_are_refused_with_a_clear_detail_and_change_nothing(world):
    admin = world.api("admin")
    assert _put(admin, {"read": 900}).status_code == 200
    for value, words in BAD_SHAPES:
        refused = _put(admin, value)
        assert refused.status_code == 422, (value, refused.text)
        assert words in refused.json()["detail"], (value, refused.json()["detail"])
    assert admin.get("settings").json()["rate_limits"] == {"read": 900}
    assert _put(world.api("manager"), {"read": 1}).status_code == 403


def test_other_workers_see_a_change_when_their_cache_expires(world, engine, settings):
    # Another worker's view: its own cache, filled before the change.
    other = TenantLimits(engine=engine, secret=settings.secret_key, ttl_s=0.3)
    token = world.token("manager")
    assert other.cached(token, "read")[0] is False  # nothing known yet: needs the database
    assert other.load(token, "read") == (world.a.id, None)
    assert other.cached(token, "read") == (True, world.a.id, None)
    with transaction(make_sessionmaker(engine)) as session:
        org.put_setting(
            session, actor=world.principal("admin"), key="rate_limits", value={"read": 7}
        )
    assert other.cached(token, "read") == (True, world.a.id, None)  # still the cached copy
    time.sleep(0.35)
    assert other.cached(token, "read")[0] is False
    assert other.load(token, "read") == (world.a.id, Limit(7, 60))
    assert other.cached(token, "write") == (True, world.a.id, None)
    # A credential nobody issued is the server's business, and is remembered as such.
    assert other.load("spk_" + "x" * 43, "read") == (None, None)
    assert other.cached("spk_" + "x" * 43, "read") == (True, None, None)


def test_a_generated_signing_key_is_the_one_tenant_limits_check_tokens_with(settings, engine):
    # The embedded setup sets no secret: the server makes one in its data folder.
    embedded = settings.model_copy(update={"secret_key": None})
    with TestClient(create_app(embedded, engine=engine)) as client:
        world = build_world(engine, client)
        admin = world.api("admin")
        assert _put(admin, {"read": 2}).status_code == 200
        hold_rate_limit_window(client.app)
        assert [admin.get("branches").status_code for _ in range(3)] == [200, 200, 429]


def test_a_credentials_business_outlives_its_limits_in_the_cache(world, engine, settings):
    # A till's credential: its business is looked up once, its limits again as they expire.
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    enrolled = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    assert enrolled.status_code == 201, enrolled.text
    token = enrolled.json()["token"]
    other = TenantLimits(engine=engine, secret=settings.secret_key, ttl_s=0.2, credential_ttl_s=60)
    assert other.load(token, "read") == (world.a.id, None)
    time.sleep(0.25)
    assert other.cached(token, "read") == (False, world.a.id, None)  # only the limits expired
    with transaction(make_sessionmaker(engine)) as session:
        org.put_setting(
            session, actor=world.principal("admin"), key="rate_limits", value={"read": 7}
        )
    looked_up = []
    real = other._tenant_of_key

    def counted(session, credential):
        looked_up.append(credential)
        return real(session, credential)

    other._tenant_of_key = counted  # type: ignore[method-assign]
    assert other.load(token, "read") == (world.a.id, Limit(7, 60))
    assert looked_up == []  # the business came from memory; the limits from the database
    assert other.cached(token, "write") == (True, world.a.id, None)
