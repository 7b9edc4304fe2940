"""A pull whose cursor is at the feed's head answers what reading the feed would answer."""

from __future__ import annotations

import pytest

from sync_server.db import transaction
from sync_server.foundation import feed
from sync_server.sync import pull
from sync_server.sync.retention import floor
from tests.factories import World


def _slow(session, *, tenant_id: int, branch_id: int, seq: int, limit: int) -> dict:
    """What a feed cursor gets by reading the feed, as pull does past the head check."""
    page = pull._feed_page(session, tenant_id=tenant_id, branch_id=branch_id, seq=seq, limit=limit)
    assert seq >= floor(session, tenant_id=tenant_id)  # not expired: no snapshot instead
    return page


def test_a_cursor_at_the_head_gets_the_feeds_empty_page_without_reading_the_feed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, branch_id = world.a.id, world.a.branch_ids[0]
    # Something in the feed after the world was built, so the head is past 0.
    admin = world.api("admin")
    made = admin.post("products", json={"sku": "HEAD-1", "name": "At the head", "price": "5.00"})
    assert made.status_code == 201, made.text
    read = []
    feed_page = pull._feed_page
    monkeypatch.setattr(
        pull, "_feed_page", lambda session, **kw: read.append(kw["seq"]) or feed_page(session, **kw)
    )
    with transaction(world.sessions()) as session:
        pull.catch_up(session, tenant_id=tenant_id)
        head = pull._head(session, tenant_id=tenant_id)
        assert head > 0
        at_head = pull.pull(
            session, tenant_id=tenant_id, branch_id=branch_id, cursor=str(head), limit=100
        )
        assert read == []  # answered from the head alone
        expected = _slow(session, tenant_id=tenant_id, branch_id=branch_id, seq=head, limit=100)
        assert at_head == expected
        assert at_head == {
            "changes": [],
            "cursor": str(head),
            "has_more": False,
            "reset": False,
            "snapshot": False,
        }
        # One behind the head still reads the feed, and finds the product's change.
        read.clear()
        behind = pull.pull(
            session, tenant_id=tenant_id, branch_id=branch_id, cursor=str(head - 1), limit=100
        )
        assert read == [head - 1]
        assert behind["cursor"] == str(head) and behind["changes"][-1]["seq"] == head
        assert behind == _slow(
            session, tenant_id=tenant_id, branch_id=branch_id, seq=head - 1, limit=100
        )
        # Past the head is still a server that went back in time: a snapshot from the start.
        past = pull.pull(
            session, tenant_id=tenant_id, branch_id=branch_id, cursor=str(head + 1), limit=100
        )
        assert past["reset"] is True and past["snapshot"] is True


def test_a_page_that_ends_the_feed_moves_the_cursor_past_other_branches_changes(
    world: World,
) -> None:
    tenant_id = world.a.id
    branch_id, other_branch = world.a.branch_ids[:2]

    def change(branch: int, key: int) -> None:
        with transaction(world.sessions()) as session:
            feed.publish(
                session,
                tenant_id=tenant_id,
                entity="stock",
                key=key,
                branch_id=branch,
                data={"product_id": key, "on_hand": "1", "reserved": "0", "available": "1"},
            )

    change(branch_id, 1)
    with transaction(world.sessions()) as session:
        pull.catch_up(session, tenant_id=tenant_id)
        mine = pull._head(session, tenant_id=tenant_id)
    for key in (2, 3, 4):
        change(other_branch, key)
    with transaction(world.sessions()) as session:
        page = pull.pull(
            session, tenant_id=tenant_id, branch_id=branch_id, cursor=str(mine), limit=100
        )
        head = pull._head(session, tenant_id=tenant_id)
        assert head >= mine + 3
        # The page the feed gives (nothing of this branch), with the cursor at the head.
        slow = _slow(session, tenant_id=tenant_id, branch_id=branch_id, seq=mine, limit=100)
        assert slow["cursor"] == str(mine)
        assert page == {**slow, "cursor": str(head)}
    # This branch's next change still reaches the till, from the head on.
    change(branch_id, 5)
    with transaction(world.sessions()) as session:
        later = pull.pull(
            session, tenant_id=tenant_id, branch_id=branch_id, cursor=str(head), limit=100
        )
    assert [(c["key"], c["seq"]) for c in later["changes"]] == [("5", head + 1)]
    assert later["cursor"] == str(head + 1)
