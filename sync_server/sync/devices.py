"""Enrol tills with one-time codes, authenticate them, rename and revoke them."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed, Conflict, NotFound
from common.ids import new_id
from common.roles import Permission
from common.sync.protocol import DEVICE_TOKEN_PREFIX
from sync_server.audit import service as audit
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.credentials import tenant_of
from sync_server.foundation.principal import Actor, Principal
from sync_server.lookups import get_owned
from sync_server.org.models import Branch
from sync_server.sync.models import DEVICE_TOKEN, ENROLMENT_CODE, Device, EnrolmentCode

# What a till may do with its own credential (the cashier's PIN is checked on the till).
DEVICE_PERMISSIONS = frozenset(
    {Permission.POS_SELL, Permission.POS_REFUND, Permission.POS_SHIFT, Permission.CATALOG_READ}
)
# Unambiguous letters for codes people type: no 0/O or 1/I/L.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def digest(secret: str) -> str:
    """Hash a high-entropy random secret; a fast hash is enough for 160+ random bits."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _normal_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def create_enrolment_code(
    session: Session, *, actor: Actor, branch_id: int, valid_minutes: int = 24 * 60
) -> tuple[str, EnrolmentCode]:
    """Issue a one-time code for a branch; the plain code is returned once, never stored."""
    branch = get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    if not branch.active:
        raise Conflict(f"Branch {branch.code} is not active.")
    plain = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    row = EnrolmentCode(
        tenant_id=actor.tenant_id,
        code_hash=digest(plain),
        branch_id=branch.id,
        created_by=actor.user_id,
        expires_at=utcnow() + timedelta(minutes=valid_minutes),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="device.enrolment_code_created",
        entity_type="branch",
        entity_id=branch.id,
        after={"code_id": row.id, "expires_at": row.expires_at},
    )
    return f"{plain[:5]}-{plain[5:]}", row


def enrol(session: Session, *, code: str, name: str) -> tuple[Device, str, Branch]:
    """Exchange a one-time code for a device and its credential (shown once)."""
    code_hash = digest(_normal_code(code))
    # The credential directory names the code's tenant; its row is locked within that tenant.
    tenant_id = tenant_of(session, kind=ENROLMENT_CODE, digest=code_hash)
    row = (
        None
        if tenant_id is None
        else session.scalar(
            lock_for_update(
                select(EnrolmentCode).where(
                    EnrolmentCode.tenant_id == tenant_id, EnrolmentCode.code_hash == code_hash
                ),
                session,
            )
        )
    )
    # Say which: the person at the till acts differently on a typo, a reused or an old code.
    # A code is random and single-use, so naming the reason tells a guesser nothing useful.
    if row is None:
        raise AuthenticationFailed(
            "The enrolment code is unknown to this server: check it was typed as issued, and "
            "that it was issued by this server."
        )
    if row.used_at is not None:
        raise AuthenticationFailed(
            "The enrolment code was already used to enrol a till; each code enrols one till. "
            "Ask an admin for a new code."
        )
    if row.expires_at <= utcnow():
        raise AuthenticationFailed(
            "The enrolment code has expired; ask an admin for a new code and use it within "
            "its validity."
        )
    # Lock the branch: two tills enrolling at once must not get the same receipt series.
    branch = session.scalars(
        lock_for_update(
            select(Branch).where(Branch.tenant_id == row.tenant_id, Branch.id == row.branch_id),
            session,
        )
    ).one()
    number = (
        session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.tenant_id == row.tenant_id, Device.branch_id == branch.id)
        )
        or 0
    ) + 1
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device(
        id=new_id(),
        tenant_id=row.tenant_id,
        branch_id=branch.id,
        name=name,
        token_hash=digest(token),
        receipt_prefix=f"{branch.code}-T{number:02d}",
        created_by=row.created_by,
    )
    session.add(device)
    row.used_at = utcnow()
    row.device_id = device.id
    session.flush()
    audit.record(
        session,
        actor=Actor(tenant_id=row.tenant_id, label=f"device:{name}", device_id=device.id),
        action="device.enrolled",
        entity_type="device",
        entity_id=device.id,
        after={"name": name, "branch_id": branch.id, "receipt_prefix": device.receipt_prefix},
    )
    return device, token, branch


# Built once (every push and pull resolves a device): building costs more than running it.
_BY_TOKEN = select(Device).where(
    Device.tenant_id == bindparam("tenant_id"), Device.token_hash == bindparam("token_hash")
)
# session.info key: the device whose credential the request presented.
RESOLVED_DEVICE = "sync_resolved_device"


# A good till's principal is kept this long by each process, as an API key's is: a till
# pushes and pulls every few seconds, and this saves the credential directory's and the
# device's reads (and, for a push or a pull, a trip through the thread pool) on all but one
# request in this span. A revoked till stops at once in the process that revoked it; on
# every other worker and server its pushes stop at once too (a push reads its device row
# by id and refuses a revoked one: refuse_revoked), its other requests within this span.
# Unknown or revoked credentials are never kept: each try is read again.
DEVICE_CACHE_SECONDS = 2.0
_DEVICE_CACHE_SIZE = 10_000
_resolved: dict[str, tuple[float, Principal]] = {}


# Which device (tenant, id) a credential found: a device's credential and tenant never
# change, so this is kept as long as the process runs (bounded). A till whose principal is
# no longer kept is read by id from it (session.get, the read its push makes anyway),
# without the credential directory's read; the row is still checked, revoked or not.
_where: dict[str, tuple[int, str]] = {}


def _by_known_id(session: Session, token_hash: str) -> Device | None:
    """Return the device this credential found before, read by id, or None."""
    where = _where.get(token_hash)
    if where is None:
        return None
    device = session.get(Device, where[1])
    if device is None or device.tenant_id != where[0] or device.token_hash != token_hash:
        return None  # not as found before (cannot happen): read it the directory's way
    return device


# What a till's principal is made of, read by id without the ORM (a pull needs no row).
_devices = Device.__table__
_FACTS_BY_ID = select(
    _devices.c.tenant_id,
    _devices.c.token_hash,
    _devices.c.name,
    _devices.c.branch_id,
    _devices.c.revoked_at,
).where(_devices.c.id == bindparam("device_id"))


def forget_resolved_devices() -> None:
    """Drop every till's kept principal (a till was revoked or renamed here)."""
    _resolved.clear()


def _forget_after_commit(session: Session) -> None:
    """Forget now and again once the session commits.

    A request of this process that read the device between the change's flush and its
    commit saw it unchanged and may have kept it: the commit's forget drops that too.
    """
    forget_resolved_devices()
    event.listen(session, "after_commit", lambda _session: forget_resolved_devices(), once=True)


def kept_device(token: str) -> Principal | None:
    """Return the principal resolve_device_token keeps for this credential, or None.

    Reads no database, so it may run on the event loop (deps.in_one_hop).
    """
    kept = _resolved.get(digest(token))
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    return None


def resolve_device_token(session: Session, *, token: str) -> Principal:
    """Return the principal of a till credential; a revoked device is refused.

    Read from the database, then kept for DEVICE_CACHE_SECONDS (see there). When it was
    read, the device row is held in session.info[RESOLVED_DEVICE]; when it was kept, code
    that needs the row reads it by id (session.get), as the push does.
    """
    return _resolve(session, token=token, row_needed=True)


def resolve_device_token_rowless(session: Session, *, token: str) -> Principal:
    """As resolve_device_token, for a request that needs no device row (a pull).

    A till found before is read by id as a plain row of the columns its principal needs,
    not as an ORM object (about a third of a pull's CPU went to session.get); its
    revocation is checked all the same.
    """
    return _resolve(session, token=token, row_needed=False)


def _resolve(session: Session, *, token: str, row_needed: bool) -> Principal:
    token_hash = digest(token)
    now = time.monotonic()
    kept = _resolved.get(token_hash)
    if kept is not None and kept[0] > now:
        return kept[1]
    where = None if row_needed else _where.get(token_hash)
    if where is not None:
        facts = session.connection().execute(_FACTS_BY_ID, {"device_id": where[1]}).first()
        if facts is not None and facts.tenant_id == where[0] and facts.token_hash == token_hash:
            if facts.revoked_at is not None:
                raise _revoked()
            return _keep(
                token_hash,
                now,
                tenant_id=facts.tenant_id,
                device_id=where[1],
                name=facts.name,
                branch_id=facts.branch_id,
            )
        # Not as found before (cannot happen): read it the directory's way.
    device = _by_known_id(session, token_hash)
    if device is None:
        # The credential directory names the device's tenant; the device is read within it.
        tenant_id = tenant_of(session, kind=DEVICE_TOKEN, digest=token_hash)
        device = (
            None
            if tenant_id is None
            else session.scalar(_BY_TOKEN, {"tenant_id": tenant_id, "token_hash": token_hash})
        )
        if device is None:
            raise AuthenticationFailed("The device credential is not recognised.")
        if len(_where) >= _DEVICE_CACHE_SIZE:
            _where.clear()
        _where[token_hash] = (device.tenant_id, device.id)
    # Held for the request: the session's identity map keeps only weak references, and a
    # push reads the device again by id (session.get then finds it without a query).
    session.info[RESOLVED_DEVICE] = device
    refuse_revoked(device)
    return _keep(
        token_hash,
        now,
        tenant_id=device.tenant_id,
        device_id=device.id,
        name=device.name,
        branch_id=device.branch_id,
    )


def _keep(
    token_hash: str, now: float, *, tenant_id: int, device_id: str, name: str, branch_id: int
) -> Principal:
    principal = Principal(
        tenant_id=tenant_id,
        kind="device",
        label=f"device:{name}",
        role="device",
        device_id=device_id,
        branch_ids=frozenset({branch_id}),
        permissions=DEVICE_PERMISSIONS,
    )
    if len(_resolved) >= _DEVICE_CACHE_SIZE:
        _resolved.clear()  # many tills in a short span: start again rather than grow
    _resolved[token_hash] = (now + DEVICE_CACHE_SECONDS, principal)
    return principal


def _revoked() -> AuthenticationFailed:
    return AuthenticationFailed(
        "device revoked: this till's credential was revoked; enrol it again with a new code."
    )


def refuse_revoked(device: Device) -> None:
    """Refuse a request whose till was revoked (read by id after a kept principal)."""
    if device.revoked_at is not None:
        raise _revoked()


def get_device(session: Session, *, tenant_id: int, device_id: str) -> Device:
    """Return a device of the tenant or raise NotFound."""
    device = session.get(Device, device_id)
    if device is None or device.tenant_id != tenant_id:
        raise NotFound("There is no such device.")
    return device


def rename(session: Session, *, actor: Principal, device: Device, name: str) -> Device:
    """Give a device a new name."""
    before = device.name
    device.name = name
    session.flush()
    _forget_after_commit(session)  # its principal's label; other processes within the span
    audit.record(
        session,
        actor=actor.actor,
        action="device.renamed",
        entity_type="device",
        entity_id=device.id,
        before={"name": before},
        after={"name": name},
    )
    return device


def revoke(session: Session, *, actor: Principal, device: Device) -> Device:
    """Stop a device's sync at once; its credential is refused from the next request."""
    if device.revoked_at is not None:
        raise Conflict("This device is already revoked.")
    device.revoked_at = utcnow()
    session.flush()
    # Here at once; elsewhere a push at once, other requests within DEVICE_CACHE_SECONDS.
    _forget_after_commit(session)
    audit.record(
        session,
        actor=actor.actor,
        action="device.revoked",
        entity_type="device",
        entity_id=device.id,
        before={"revoked": False},
        after={"revoked": True},
    )
    return device
