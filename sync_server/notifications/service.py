"""Write notifications to the outbox (in the event's transaction) and manage recipients."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.orm import Session

from common.errors import NotFound, ValidationFailed
from common.roles import Role
from sync_server.audit import service as audit
from sync_server.audit.service import jsonable
from sync_server.auth.models import User
from sync_server.db import utcnow
from sync_server.foundation.principal import Actor
from sync_server.lookups import get_owned
from sync_server.notifications.models import (
    Notification,
    NotificationAttachment,
    NotificationRule,
    SmsOptIn,
)
from sync_server.org.models import Branch
from sync_server.org.service import get_setting
from sync_server.partners.models import Customer

CHANNELS = ("email", "webhook", "in_app", "sms")
LOW_STOCK_EVENT = "alert.low_stock"
_PHONE = re.compile(r"\+?[0-9]{6,18}")
# Mail servers commonly refuse messages over 10 MB; base64 makes a file a third bigger.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send with the e-mails of a notification."""

    filename: str
    content_type: str
    content: bytes


def normalize_phone(raw: str) -> str:
    """Return a phone number as digits with an optional leading +, or refuse it."""
    phone = re.sub(r"[\s().-]", "", raw or "")
    if not _PHONE.fullmatch(phone):
        raise ValidationFailed(f"'{raw}' is not a phone number an SMS can go to.")
    return phone


def matches(pattern: str, event: str) -> bool:
    """Say whether a rule's event pattern ("order.created", "order.*", "*") takes an event."""
    if pattern in ("*", event):
        return True
    return pattern.endswith(".*") and event.startswith(pattern[:-1])


def _role_emails(
    session: Session, *, tenant_id: int, role: str, branch_id: int | None
) -> list[tuple[int, str]]:
    users = session.scalars(
        select(User).where(
            User.tenant_id == tenant_id,
            User.role == role,
            User.active.is_(True),
            User.email.is_not(None),
        )
    ).all()
    return [
        (user.id, user.email)
        for user in users
        # A user tied to branches hears only about those; admins and unbound users hear all.
        if user.email
        and (
            branch_id is None
            or role == Role.ADMIN
            or not user.branch_ids
            or branch_id in user.branch_ids
        )
    ]


_RULES_MEMO = "notification_rules"


def active_rules(
    session: Session, *, tenant_id: int, branch_id: int | None
) -> list[NotificationRule]:
    """Return the tenant's live rules for a branch, read once per transaction.

    One unit of work often queues several events (an order and the availability of each of
    its products); they all see the rules as the first read found them. Adding or removing a
    rule in the same transaction forgets what was read.
    """
    transaction = session.get_transaction()
    memo: tuple[object, dict[tuple[int, int | None], list[NotificationRule]]] | None
    memo = session.info.get(_RULES_MEMO)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info[_RULES_MEMO] = memo
    if any(isinstance(row, NotificationRule) for row in session.new):
        memo[1].clear()  # a rule added but not flushed yet: read it with the others
    key = (tenant_id, branch_id)
    rules = memo[1].get(key)
    if rules is None:
        rules = memo[1][key] = list(
            session.scalars(_ACTIVE_RULES, {"tenant_id": tenant_id, "branch_id": branch_id})
        )
    return rules


# Built once: every online order asks (building a statement costs more than running it).
_ACTIVE_RULES = select(NotificationRule).where(
    NotificationRule.tenant_id == bindparam("tenant_id"),
    NotificationRule.active.is_(True),
    or_(
        NotificationRule.branch_id.is_(None),
        NotificationRule.branch_id == bindparam("branch_id"),
    ),
)


def _forget_rules(session: Session) -> None:
    session.info.pop(_RULES_MEMO, None)


def listens(session: Session, *, tenant_id: int, event: str, branch_id: int | None) -> bool:
    """Say whether a rule of the tenant would send this event anywhere."""
    return any(
        matches(rule.event, event)
        for rule in active_rules(session, tenant_id=tenant_id, branch_id=branch_id)
    )


def notify(
    session: Session,
    *,
    tenant_id: int,
    event: str,
    subject: str,
    body: str,
    payload: dict[str, Any],
    branch_id: int | None = None,
    roles: list[Role] | None = None,
    email: str | None = None,
    customer_id: int | None = None,
    attachments: Sequence[Attachment] = (),
    sms: str | None = None,
) -> list[Notification]:
    """Queue an event for its recipients: the roles in-app, an address, and the tenant's rules.

    A customer named here also gets an SMS if they opted in; low-stock alerts go by SMS to
    the numbers of the tenant setting low_stock_sms_to. Attachments go with every e-mail of
    the event (other channels cannot carry files).
    """
    if sum(len(a.content) for a in attachments) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(
            f"The files to e-mail with '{subject[:80]}' are over "
            f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB; mail servers would refuse them."
        )
    rows: dict[tuple[str, str], Notification] = {}
    payload = jsonable(payload)

    def add(channel: str, recipient: str, **extra: Any) -> None:
        if (channel, recipient) in rows:
            return
        rows[(channel, recipient)] = Notification(
            tenant_id=tenant_id,
            event=event,
            channel=channel,
            recipient=recipient,
            branch_id=branch_id,
            subject=subject[:200],
            body=body,
            payload=payload,
            # In-app rows are delivered by being written; the dispatcher sends the rest.
            status="delivered" if channel == "in_app" else "pending",
            delivered_at=utcnow() if channel == "in_app" else None,
            attempts=0,
            next_attempt_at=utcnow(),
            **extra,
        )

    for role in roles or []:
        add("in_app", f"role:{Role(role).value}", role=Role(role).value)
    if email:
        add("email", email)
    if sms:
        # A number the person gave for this message (e.g. an e-receipt), already normalized.
        add("sms", sms)
    for rule in active_rules(session, tenant_id=tenant_id, branch_id=branch_id):
        if not matches(rule.event, event):
            continue
        if rule.channel == "webhook" and rule.address:
            add("webhook", rule.address, rule_id=rule.id)
        elif rule.channel == "in_app" and rule.role:
            add("in_app", f"role:{rule.role}", role=rule.role, rule_id=rule.id)
        elif rule.channel == "email" and rule.address:
            add("email", rule.address, rule_id=rule.id)
        elif rule.channel == "sms" and rule.address:
            add("sms", rule.address, rule_id=rule.id)
        elif rule.channel == "email" and rule.role:
            for user_id, address in _role_emails(
                session, tenant_id=tenant_id, role=rule.role, branch_id=branch_id
            ):
                add("email", address, rule_id=rule.id, user_id=user_id, role=rule.role)
    if customer_id is not None:
        phone = session.scalar(
            select(SmsOptIn.phone).where(
                SmsOptIn.tenant_id == tenant_id, SmsOptIn.customer_id == customer_id
            )
        )
        if phone:
            add("sms", phone)
    if event == LOW_STOCK_EVENT:
        numbers = get_setting(session, tenant_id=tenant_id, key="low_stock_sms_to")
        for number in (n.strip() for n in str(numbers).split(",")):
            if number:
                add("sms", number, role=Role.MANAGER.value)
    session.add_all(rows.values())
    emails = [row for row in rows.values() if row.channel == "email"]
    if attachments and emails:
        session.flush()  # the rows need their ids before files can point at them
        session.add_all(
            NotificationAttachment(
                tenant_id=tenant_id,
                notification_id=row.id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                content=attachment.content,
            )
            for row in emails
            for attachment in attachments
        )
    return list(rows.values())


def create_rule(
    session: Session,
    *,
    actor: Actor,
    event: str,
    channel: str,
    role: str | None = None,
    branch_id: int | None = None,
    address: str | None = None,
    secret: str | None = None,
) -> NotificationRule:
    """Add a recipient rule for a tenant."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"Unknown channel '{channel}'; use one of {', '.join(CHANNELS)}.")
    if role is not None and role not in {r.value for r in Role}:
        raise ValidationFailed(f"Unknown role '{role}'.")
    if channel == "webhook" and not (address and address.startswith(("http://", "https://"))):
        raise ValidationFailed("A webhook rule needs an http(s) URL as its address.")
    if channel == "in_app" and not role:
        raise ValidationFailed("An in-app rule needs a role.")
    if channel == "email" and not (role or (address and "@" in address)):
        raise ValidationFailed("An e-mail rule needs a role or an e-mail address.")
    if channel == "sms":
        address = normalize_phone(address or "")
    if branch_id is not None:
        get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    rule = NotificationRule(
        tenant_id=actor.tenant_id,
        event=event,
        channel=channel,
        role=role,
        branch_id=branch_id,
        address=address,
        secret=secret,
        active=True,
    )
    session.add(rule)
    session.flush()
    _forget_rules(session)
    audit.record(
        session,
        actor=actor,
        action="notification_rule.create",
        entity_type="notification_rule",
        entity_id=rule.id,
        after={
            "event": event,
            "channel": channel,
            "role": role,
            "branch_id": branch_id,
            "address": address,
        },
    )
    return rule


def delete_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Remove a recipient rule."""
    rule = get_owned(
        session, NotificationRule, id=rule_id, tenant_id=actor.tenant_id, what="notification rule"
    )
    audit.record(
        session,
        actor=actor,
        action="notification_rule.delete",
        entity_type="notification_rule",
        entity_id=rule.id,
        before={"event": rule.event, "channel": rule.channel, "address": rule.address},
    )
    # The notifications it made stay, no longer tied to a rule (the key to the rule holds
    # tenant_id too, so the database cannot set it to NULL by itself).
    session.execute(
        update(Notification)
        .where(Notification.tenant_id == rule.tenant_id, Notification.rule_id == rule.id)
        .values(rule_id=None)
    )
    session.delete(rule)
    _forget_rules(session)


def inbox_filter(
    *,
    tenant_id: int,
    user_id: int | None,
    role: str,
    branch_ids: frozenset[int],
    all_branches: bool,
) -> ColumnElement[bool]:
    """Return the WHERE clause of the in-app notifications a caller may read."""
    mine = [Notification.user_id == user_id] if user_id is not None else []
    clause = (Notification.role == role) & Notification.user_id.is_(None)
    if not all_branches:
        clause &= or_(Notification.branch_id.is_(None), Notification.branch_id.in_(branch_ids))
    return (
        (Notification.tenant_id == tenant_id)
        & (Notification.channel == "in_app")
        & or_(clause, *mine)
    )


def mark_read(session: Session, *, principal: Any, notification_id: int) -> Notification:
    """Mark one of the caller's in-app notifications read."""
    row = session.scalar(
        select(Notification).where(
            Notification.id == notification_id,
            inbox_filter(
                tenant_id=principal.tenant_id,
                user_id=principal.user_id,
                role=principal.role,
                branch_ids=principal.branch_ids,
                all_branches=principal.all_branches,
            ),
        )
    )
    if row is None:
        raise NotFound(f"There is no notification with id {notification_id} for you.")
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def opt_in_sms(session: Session, *, actor: Actor, customer_id: int, phone: str | None) -> SmsOptIn:
    """Record that a customer agreed to text messages (at the given number or their own)."""
    customer = get_owned(
        session, Customer, id=customer_id, tenant_id=actor.tenant_id, what="customer"
    )
    number = normalize_phone(phone if phone is not None else customer.phone)
    row = session.scalar(
        select(SmsOptIn).where(
            SmsOptIn.tenant_id == actor.tenant_id, SmsOptIn.customer_id == customer.id
        )
    )
    before = {"phone": row.phone} if row is not None else None
    if row is None:
        row = SmsOptIn(tenant_id=actor.tenant_id, customer_id=customer.id, phone=number)
        session.add(row)
    row.phone = number
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="customer.sms_opt_in",
        entity_type="customer",
        entity_id=customer.id,
        before=before,
        after={"phone": number},
    )
    return row


def opt_out_sms(session: Session, *, actor: Actor, customer_id: int) -> None:
    """Stop text messages to a customer."""
    customer = get_owned(
        session, Customer, id=customer_id, tenant_id=actor.tenant_id, what="customer"
    )
    row = session.scalar(
        select(SmsOptIn).where(
            SmsOptIn.tenant_id == actor.tenant_id, SmsOptIn.customer_id == customer.id
        )
    )
    if row is None:
        return
    audit.record(
        session,
        actor=actor,
        action="customer.sms_opt_out",
        entity_type="customer",
        entity_id=customer.id,
        before={"phone": row.phone},
    )
    session.delete(row)
