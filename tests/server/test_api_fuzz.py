"""schemathesis over every operation of the OpenAPI document, as admin, viewer and cashier.

Each generated request is sent three times (viewer, cashier, admin) to the ASGI app with a real
database of each engine. Checks: no 5xx, status codes, content types, headers and bodies as the
document says, and nothing a role lacks the permission for answered with success (so a viewer
never writes). Bounded examples and a fixed seed keep the run repeatable and a few minutes long.

The seed and the document are the same for both engines, so both would draw the same cases:
the first engine's run draws them (hypothesis, through schemathesis) and keeps a copy, and the
other engine's run sends those very cases again instead of drawing them a second time.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy import select, update

from common.roles import Role, can
from sync_server.auth.models import User
from sync_server.auth.security import issue_access_token
from sync_server.config import Settings

pytestmark = pytest.mark.fuzz

ROLES = ("viewer", "cashier", "admin")  # the admin goes last: its writes may change the world
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
POSITIVE = int(os.environ.get("STOCKPILOT_FUZZ_EXAMPLES", "4"))
NEGATIVE = int(os.environ.get("STOCKPILOT_FUZZ_NEGATIVE", "2"))
SEED = 17
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        # Thousands of requests from three callers: limits would answer 429 and hide the rest.
        rate_limit_store="off",
    )


def _reset_roles(world) -> None:
    """Give the three callers back their role and access (the admin's fuzzing may change them).

    Read first, on one connection: the callers are written back only if something changed them,
    which few of the admin's writes do."""
    wanted = {world.a.users[role]: role for role in ROLES}
    with world.engine.begin() as connection:
        now = connection.execute(
            select(User.id, User.role, User.active).where(User.id.in_(list(wanted)))
        ).all()
        for user_id, role, active in now:
            if role != wanted[user_id] or not active:
                connection.execute(
                    update(User).where(User.id == user_id).values(role=wanted[user_id], active=True)
                )


def _token(world, role: str) -> str:
    # A fresh token per request: the admin's fuzzing may log a token out (POST /auth/logout).
    token, _ = issue_access_token(
        secret=world.client.app.state.settings.resolved_secret_key,
        user_id=world.a.users[role],
        tenant_id=world.a.id,
        minutes=15,
    )
    return token


# The cases drawn for each operation and mode (and how drawing ended), in the order they were
# sent: a test process draws them once and sends them to the database of each engine.
_DRAWN: dict[tuple[str, GenerationMode], tuple[list[Case], str | None]] = {}


def _kept(case: Case) -> Case:
    """A copy of a drawn case's request, taken before it is sent."""
    body = case.body
    return _as_case_of(
        case.operation,
        case,
        path_parameters=copy.deepcopy(case.path_parameters),
        headers=copy.deepcopy(case.headers),
        cookies=copy.deepcopy(case.cookies),
        query=copy.deepcopy(case.query),
        body=copy.deepcopy(body) if isinstance(body, (list, dict)) else body,
    )


def _as_case_of(operation, case: Case, **parts) -> Case:
    """The kept request as a case of this run's operation (its app, its document)."""
    return Case(
        operation=operation,
        method=case.method,
        path=case.path,
        path_parameters=parts.get("path_parameters", case.path_parameters),
        headers=parts.get("headers", case.headers),
        cookies=parts.get("cookies", case.cookies),
        query=parts.get("query", case.query),
        body=parts.get("body", case.body),
        media_type=case.media_type,
        multipart_content_types=case.multipart_content_types,
        meta=case.meta,
    )


def _session(app) -> ASGIClient:
    """One in-process client for the whole run (schemathesis otherwise makes a new requests
    session, adapter and connection pools for every call), reading no proxy settings from the
    environment for each request: calls go straight to the ASGI app either way."""
    session = ASGIClient(app)
    session.trust_env = False
    return session


def _fuzz_operation(
    world, session: ASGIClient, operation, failures: list[str], seen: Counter, dirty: list[bool]
) -> None:
    label = operation.label
    permissions = operation.definition.raw.get("x-permissions", [])
    writes = operation.method.upper() not in SAFE_METHODS

    def send(case) -> None:
        # Only a write may have changed a caller's role or access: after reads the reset
        # would write back what is there.
        if dirty[0]:
            _reset_roles(world)
        dirty[0] = writes
        for role in ROLES:
            headers = {"Authorization": f"Bearer {_token(world, role)}"}
            session.cookies.clear()  # each call as a fresh client: nothing carried over
            try:
                response = case.call(headers=headers, session=session)
            except Exception as exc:  # noqa: BLE001 - a crash in the app is a finding too
                failures.append(f"{label} [{role}]: request raised {type(exc).__name__}: {exc}")
                continue
            seen[response.status_code // 100] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # noqa: BLE001 - collect every finding, then report
                first = str(exc).strip().splitlines()
                failures.append(
                    f"{label} [{role}] -> {response.status_code}: " + " | ".join(first[:6])[:600]
                )
            if response.status_code < 300 and not all(can(Role(role), p) for p in permissions):
                failures.append(
                    f"{label} [{role}] -> {response.status_code}: success without "
                    f"{', '.join(permissions)}"
                )

    for mode, examples in (
        (GenerationMode.POSITIVE, POSITIVE),
        (GenerationMode.NEGATIVE, NEGATIVE),
    ):
        if examples <= 0:
            continue
        drawn = _DRAWN.get((label, mode))
        if drawn is not None:
            cases, ended = drawn
            for case in cases:
                send(_as_case_of(operation, case))
            if ended is not None:
                failures.append(ended)
            continue
        kept, ended = _draw(operation, mode, examples, send)
        if ended is not None:
            failures.append(ended)
        _DRAWN[(label, mode)] = (kept, ended)


def _draw(operation, mode: GenerationMode, examples: int, send) -> tuple[list[Case], str | None]:
    """Send `examples` cases drawn for the operation; return copies of them, in order, and
    what ended the drawing if it failed."""
    kept: list[Case] = []

    @seed(SEED)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        kept.append(_kept(case))
        send(case)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - e.g. no negative case exists for the operation
        if "Unsatisfiable" not in type(exc).__name__:
            return kept, f"{operation.label}: generation failed: {type(exc).__name__}: {exc}"[:400]
    return kept, None


def test_every_operation_as_admin_viewer_and_cashier(world) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    failures: list[str] = []
    seen: Counter = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100
    dirty = [True]  # the first example starts from a reset
    with _session(world.client.app) as session:
        for operation in operations:
            _fuzz_operation(world, session, operation, failures, seen, dirty)
    print(f"{len(operations)} operations; responses by class: {dict(sorted(seen.items()))}")
    # Some requests must get through, or the run proved nothing.
    assert seen[2] > len(operations)
    assert not failures, f"{len(failures)} findings:\n" + "\n".join(sorted(set(failures)))
