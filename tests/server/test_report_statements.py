"""Report statements are kept once per shape (reports/statements.py) and hold no values.

A kept statement serves every tenant: the tenant, dates, branches and ids must be bind
parameters given at each run, never values written into the statement by the run that
built it. Two tenants' reports over the same shapes, run in either order and with nothing
kept, give each tenant its own answers.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date, datetime

from sync_server.db import transaction
from sync_server.reports import keeper, statements
from tests.server.test_report_rollups import _answers, _levels, _moves, _seed

# Anonymous parameters SQLAlchemy makes from `column == value` are named after the column.
VALUE_PARAM = re.compile(r"^(tenant_id|branch_id|cashier_id|category_id|supplier_id)_\d+$")


def _run(world, tenant) -> dict[str, list]:
    with transaction(world.sessions(), readonly=True) as session:
        return _answers(session, a=tenant)


def test_kept_statements_hold_no_values_and_each_tenant_sees_its_own(world):
    a = world.a
    # Tenant B has only an admin: it plays every role the report variants ask for.
    roles = ("admin", "manager", "cashier")
    b = replace(world.b, users={role: world.b.users["b_admin"] for role in roles})
    with transaction(world.sessions()) as s:
        for tenant, seed in ((a, 3), (b, 4)):
            rnd = random.Random(seed)
            _seed(s, a=tenant, rnd=rnd, count=30, prefix=f"T{seed}")
            _moves(s, a=tenant, rnd=rnd, count=40, prefix=f"M{seed}", first=date(2025, 10, 1))
        s.flush()
        _levels(s, a=a)
        _levels(s, a=b)
    keeper.keep_once(world.sessions(), step=7)

    statements.forget()
    # The keeper's steps keep theirs too: a few more sales (and returns) for it to sum.
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=random.Random(5), count=20, prefix="K")
    keeper.keep_once(world.sessions(), step=7)
    a_fresh = _run(world, a)
    dialect = world.engine.dialect
    kept = []
    for one in statements.kept(dialect.name):
        kept.extend(one if isinstance(one, list | tuple) else [one])
    assert len(kept) > 20
    for stmt in kept:
        if stmt is None:
            continue
        params = stmt.compile(dialect=dialect).params
        assert "tenant_id" in params and params["tenant_id"] is None
        for name, value in params.items():
            assert not isinstance(value, datetime | date), name
            assert not (VALUE_PARAM.match(name) and value is not None), name

    b_after_a = _run(world, b)
    statements.forget()
    b_fresh = _run(world, b)
    a_after_b = _run(world, a)
    assert b_after_a == b_fresh
    assert a_after_b == a_fresh
    assert a_fresh != b_fresh
    # Tenant A's products and branches never show in B's reports ("Product 0 of admin",
    # "Tenant A MAIN"; B's are "… of b_admin", "Tenant B …"), and B's do show.
    shown = {value for rows in b_fresh.values() for row in rows for value in row}
    texts = [value for value in shown if isinstance(value, str)]
    assert not [text for text in texts if " of admin" in text or text.startswith("Tenant A")]
    assert [text for text in texts if " of b_admin" in text]
