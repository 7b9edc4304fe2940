"""A till's resolved principal is kept a short while per process, as an API key's is.

A revocation made in this process stops the till at once; one made elsewhere (another
worker, another server: here a plain UPDATE) stops its pushes at once, as a push reads its
device row by id, and its pulls once DEVICE_CACHE_SECONDS have passed.
"""

from __future__ import annotations

import time
from datetime import timedelta
from unittest.mock import patch

from sqlalchemy import event, update

from sync_server.db import transaction, utcnow
from sync_server.sync import devices
from sync_server.sync.models import Device
from tests.factories import RATE_COUNTER_TRIP, one_line_sale_event


def _last_seen(world, device_id: str):
    with transaction(world.sessions(), readonly=True) as session:
        device = session.get(Device, device_id)
        assert device is not None
        return device.last_seen_at


def _push(world, till, body, number: int):
    """Push one sale (a push needs at least one event) and return the answer."""
    event = one_line_sale_event(
        device_id=body["device_id"],
        branch_id=world.a.branch_ids[0],
        product_id=world.a.product_ids[0],
        receipt=f"{body['receipt_prefix']}-{number:06d}",
    )
    return till.post("sync/push", json={"events": [event]})


def _statements(engine):
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(engine, "before_cursor_execute", note)


def test_a_kept_till_is_not_read_again_and_a_revocation_here_stops_it_at_once(world, enrol):
    body, till = enrol()
    assert devices.kept_device(body["token"]) is None
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    kept = devices.kept_device(body["token"])
    assert kept is not None and kept.device_id == body["device_id"]

    # Kept: the pull reads neither the credential directory nor the device.
    seen, stop = _statements(world.engine)
    try:
        assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    finally:
        stop()
    assert not [s for s in seen if "credential_directory" in s or "FROM devices" in s], seen

    assert world.api("admin").post(f"devices/{body['device_id']}/revoke").status_code == 200
    assert devices.kept_device(body["token"]) is None
    refused = till.get("sync/pull", params={"limit": 1})
    assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]
    refused = _push(world, till, body, 1)
    assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]
    # A refused till is never kept: each try is read again.
    assert devices.kept_device(body["token"]) is None


def test_a_till_revoked_by_another_process_stops_pushing_at_once_and_pulling_within_the_span(
    world, enrol
):
    body, till = enrol()
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    assert devices.kept_device(body["token"]) is not None
    with transaction(world.sessions()) as session:
        session.execute(
            update(Device).where(Device.id == body["device_id"]).values(revoked_at=utcnow())
        )
    # This process still keeps the till: a push reads its device row by id and refuses it...
    refused = _push(world, till, body, 1)
    assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]
    # ...a pull (which needs no device row) passes until the span has gone by.
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    later = time.monotonic() + devices.DEVICE_CACHE_SECONDS + 0.01
    with patch.object(devices.time, "monotonic", return_value=later):
        refused = till.get("sync/pull", params={"limit": 1})
    assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]


def test_a_kept_till_push_still_marks_it_seen_at_most_once_a_minute(world, enrol):
    body, till = enrol()
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    assert devices.kept_device(body["token"]) is not None
    assert _last_seen(world, body["device_id"]) is None
    assert _push(world, till, body, 1).status_code == 200  # a kept principal
    first = _last_seen(world, body["device_id"])
    assert first is not None
    assert _push(world, till, body, 2).status_code == 200
    assert _last_seen(world, body["device_id"]) == first  # within the minute: not written
    stale = first - timedelta(minutes=2)
    with transaction(world.sessions()) as session:
        session.execute(
            update(Device).where(Device.id == body["device_id"]).values(last_seen_at=stale)
        )
    assert devices.kept_device(body["token"]) is not None
    assert _push(world, till, body, 3).status_code == 200
    assert _last_seen(world, body["device_id"]) > stale


def test_a_rename_here_is_signed_with_the_new_name_at_once(world, enrol):
    body, till = enrol(name="Old name")
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    assert devices.kept_device(body["token"]).label == "device:Old name"
    renamed = world.api("admin").patch(f"devices/{body['device_id']}", json={"name": "New"})
    assert renamed.status_code == 200
    assert devices.kept_device(body["token"]) is None
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    assert devices.kept_device(body["token"]).label == "device:New"


_JSON = {"content-type": "application/json"}


def test_a_till_in_good_standing_gets_fastapis_own_422_for_a_bad_push(world, enrol):
    """Kept or not, a till's invalid push is answered as any invalid body is (problem+json)."""
    body, till = enrol()
    for state in ("not kept", "kept"):
        assert (devices.kept_device(body["token"]) is not None) == (state == "kept")
        bad = till.post("sync/push", json={"events": "many"})
        assert bad.status_code == 422, (state, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["type"].endswith("validation-error"), bad.json()
        assert [e["field"] for e in bad.json()["errors"]] == ["events"], bad.json()
        garbled = till.post("sync/push", content=b"{not json", headers=_JSON)
        assert garbled.status_code == 400, (state, garbled.text)
        assert garbled.json()["type"].endswith("malformed-json"), garbled.json()
        # The 422 after resolving keeps the till: its next request is not read again.
        assert till.get("sync/pull", params={"limit": 1}).status_code == 200


def test_a_till_no_longer_kept_is_read_by_id_without_the_directory(world, enrol):
    """Which device a credential names never changes: once found, a till whose principal has
    expired is read by its id (the read its push needs anyway), and still refused if revoked."""
    body, till = enrol()
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    later = time.monotonic() + devices.DEVICE_CACHE_SECONDS + 0.01
    seen, stop = _statements(world.engine)
    try:
        with patch.object(devices.time, "monotonic", return_value=later):
            assert _push(world, till, body, 1).json()["results"][0]["status"] == "applied"
    finally:
        stop()
    assert not [s for s in seen if "credential_directory" in s], seen
    assert len([s for s in seen if "FROM devices" in s]) == 1, seen
    with transaction(world.sessions()) as session:
        session.execute(
            update(Device).where(Device.id == body["device_id"]).values(revoked_at=utcnow())
        )
    later += devices.DEVICE_CACHE_SECONDS + 0.01
    with patch.object(devices.time, "monotonic", return_value=later):
        refused = till.get("sync/pull", params={"limit": 1})
    assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]


def test_a_till_push_or_pull_takes_one_trip_whether_kept_or_not(world, enrol, trips):
    """A till not kept any more is read and checked in its push's or pull's own trip.

    A revoked till is refused 401 all the same before its body's 422 (an invalid body alone
    takes a trip more, to resolve the caller first).
    """
    body, till = enrol()
    # The first request: the rate limiter learns the till's business (a trip of its own).
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    later = time.monotonic() + devices.DEVICE_CACHE_SECONDS + 0.01
    with patch.object(devices.time, "monotonic", return_value=later):
        for number, state in enumerate(("not kept", "kept"), start=1):
            assert (devices.kept_device(body["token"]) is not None) == (state == "kept")
            trips.clear()
            pushed = _push(world, till, body, number)
            assert pushed.json()["results"][0]["status"] == "applied", pushed.text
            assert till.get("sync/pull", params={"limit": 1}).status_code == 200
            route_trips = [trip for trip in trips if trip != RATE_COUNTER_TRIP]
            # The push: one trip, the pull: one trip, kept or not.
            assert len(route_trips) == 2, (state, trips)
    # Revoked elsewhere and no longer kept: refused from that one trip.
    with transaction(world.sessions()) as session:
        session.execute(
            update(Device).where(Device.id == body["device_id"]).values(revoked_at=utcnow())
        )
    later += devices.DEVICE_CACHE_SECONDS + 0.01
    with patch.object(devices.time, "monotonic", return_value=later):
        trips.clear()
        refused = till.get("sync/pull", params={"limit": 1})
        assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]
        assert len([trip for trip in trips if trip != RATE_COUNTER_TRIP]) == 1, trips
        # Refused before its body is validated, whatever it sent.
        for sent in ({"events": []}, {}):
            refused = till.post("sync/push", json=sent)
            assert refused.status_code == 401, refused.text
            assert "device revoked" in refused.json()["detail"]
        refused = till.post("sync/push", content=b"{not json", headers=_JSON)
        assert refused.status_code == 401 and "device revoked" in refused.json()["detail"]
    # Not a till's credential: 403 before the body or the query is validated.
    denied = world.api("admin").post("sync/push", json={})
    assert denied.status_code == 403, denied.text
    assert world.api("admin").post("sync/push", json={"events": []}).status_code == 403
    assert world.api("admin").get("sync/pull", params={"limit": 0}).status_code == 403


def test_a_pull_of_a_till_no_longer_kept_reads_its_row_by_id_as_it_is_now(world, enrol):
    """A pull needs no device object: the columns of the till's principal, read by id."""
    body, till = enrol(name="Counter 1")
    assert till.get("sync/pull", params={"limit": 1}).status_code == 200
    with transaction(world.sessions()) as session:  # renamed by another process
        session.execute(
            update(Device).where(Device.id == body["device_id"]).values(name="Counter 9")
        )
    later = time.monotonic() + devices.DEVICE_CACHE_SECONDS + 0.01
    seen, stop = _statements(world.engine)
    try:
        with patch.object(devices.time, "monotonic", return_value=later):
            assert till.get("sync/pull", params={"limit": 1}).status_code == 200
            kept = devices.kept_device(body["token"])
    finally:
        stop()
    assert not [s for s in seen if "credential_directory" in s], seen
    assert len([s for s in seen if "FROM devices" in s]) == 1, seen
    assert kept is not None and kept.label == "device:Counter 9"
    assert kept.device_id == body["device_id"] and kept.branch_ids == {world.a.branch_ids[0]}
