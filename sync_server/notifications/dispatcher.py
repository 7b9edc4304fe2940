"""Deliver the outbox over SMTP, webhooks and an SMS gateway, with retries and exponential backoff.

Work is claimed in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the queue; one tenant per locking statement) that pushes
``next_attempt_at`` out by a lease; the network call happens outside any transaction, and
its outcome is written in another. A worker that dies mid-delivery leaves the row to be
retried when its lease runs out.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from common import webhooks
from common.tls import client_context
from common.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER
from sync_server import background
from sync_server.config import Settings
from sync_server.db import is_sqlite, make_sessionmaker, transaction, utcnow
from sync_server.foundation import jobs
from sync_server.notifications.models import (
    Notification,
    NotificationAttachment,
    NotificationRule,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("stockpilot.notifications")

DISPATCHED = ("email", "webhook", "sms")
SMS_MAX_CHARS = 459  # three concatenated GSM segments; gateways refuse longer texts


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    channel: str
    recipient: str
    event: str
    subject: str
    body: str
    payload: dict[str, Any]
    attempts: int
    secret: str | None
    # (filename, content type, bytes) of the files an e-mail carries; the same on every retry.
    attachments: tuple[tuple[str, str, bytes], ...] = ()


def webhook_body(job: Job) -> bytes:
    """Return the exact bytes POSTed (and signed) for a webhook notification."""
    document = {
        "id": job.id,
        "event": job.event,
        "subject": job.subject,
        "body": job.body,
        "payload": job.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Return the wait before retry number `attempts` (doubling, capped at an hour)."""
    seconds = settings.notify_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, 3600))


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Notification.status == "pending",
        Notification.channel.in_(DISPATCHED),
        Notification.next_attempt_at <= now,
    )


def _claim_rows(session: Session, *, now: datetime, limit: int) -> list[Notification]:
    """Lock up to limit due rows, one tenant per statement, the longest-waiting tenant first.

    No row lock ever spans tenants (a database sharded by tenant allows locks only within
    one shard), and a tenant with a long queue takes at most its share of a round.
    """
    waiting = session.execute(
        select(Notification.tenant_id)
        .where(*_due(now))
        .group_by(Notification.tenant_id)
        .order_by(func.min(Notification.next_attempt_at), Notification.tenant_id)
        .limit(limit)
    ).scalars()
    tenants = list(waiting)
    share = max(1, limit // max(1, len(tenants)))
    rows: list[Notification] = []
    for tenant_id in tenants:
        stmt = (
            select(Notification)
            .where(Notification.tenant_id == tenant_id, *_due(now))
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(min(share, limit - len(rows)))
        )
        if not is_sqlite(session.get_bind()):
            # Several workers share the queue: each takes rows the others have not locked.
            stmt = stmt.with_for_update(skip_locked=True)
        rows.extend(session.scalars(stmt))
        if len(rows) >= limit:
            break
    return rows


def _claim(session: Session, *, settings: Settings, now: datetime, limit: int) -> list[Job]:
    rows = _claim_rows(session, now=now, limit=limit)
    secrets: dict[int, str | None] = {}
    rule_ids = {row.rule_id for row in rows if row.rule_id is not None}
    if rule_ids:
        secrets = dict(
            session.execute(
                select(NotificationRule.id, NotificationRule.secret).where(
                    NotificationRule.id.in_(rule_ids)
                )
            ).all()
        )
    files: dict[int, list[tuple[str, str, bytes]]] = {}
    email_ids = [row.id for row in rows if row.channel == "email"]
    if email_ids:
        for notification_id, filename, content_type, content in session.execute(
            select(
                NotificationAttachment.notification_id,
                NotificationAttachment.filename,
                NotificationAttachment.content_type,
                NotificationAttachment.content,
            )
            .where(NotificationAttachment.notification_id.in_(email_ids))
            .order_by(NotificationAttachment.id)
        ):
            files.setdefault(notification_id, []).append((filename, content_type, bytes(content)))
    jobs = []
    for row in rows:
        row.attempts += 1
        # The lease: nobody else picks the row up while this worker is delivering it.
        row.next_attempt_at = now + timedelta(seconds=settings.notify_lease_seconds)
        jobs.append(
            Job(
                id=row.id,
                channel=row.channel,
                recipient=row.recipient,
                event=row.event,
                subject=row.subject,
                body=row.body,
                payload=row.payload,
                attempts=row.attempts,
                secret=secrets.get(row.rule_id) if row.rule_id is not None else None,
                attachments=tuple(files.get(row.id, ())),
            )
        )
    return jobs


def _send_email(job: Job, settings: Settings) -> None:
    if not settings.smtp_host:
        raise RuntimeError("no SMTP server is configured (STOCKPILOT_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = job.recipient
    message["Subject"] = job.subject
    message[EVENT_HEADER] = job.event
    message.set_content(job.body or job.subject)
    for filename, content_type, content in job.attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(
            content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=filename,
        )
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


def webhook_headers(job: Job, body: bytes, *, timestamp: int) -> dict[str, str]:
    """Return the headers of a webhook delivery, signed over the timestamp and the body."""
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: job.event,
        DELIVERY_HEADER: str(job.id),
    }
    if job.secret:
        headers[SIGNATURE_HEADER] = webhooks.sign(secret=job.secret, body=body, timestamp=timestamp)
    return headers


def _send_webhook(job: Job, settings: Settings) -> None:
    body = webhook_body(job)
    # Signed at sending time (each retry afresh): receivers refuse old signatures as replays.
    headers = webhook_headers(job, body, timestamp=int(time.time()))
    status = _post(job.recipient, content=body, headers=headers, timeout=settings.notify_timeout)
    if status >= 300:
        raise RuntimeError(f"webhook answered HTTP {status}")


def _post(url: str, *, content: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to a webhook or SMS gateway; return the answer's status."""
    # Imported here, not at the top: httpx (with its command line's rich and click) costs
    # ~50 ms of CPU to import, on every start of the server, which imports this module;
    # only a worker that has something to deliver needs it.
    import httpx

    response = httpx.post(
        url, content=content, headers=headers, timeout=timeout, verify=client_context()
    )
    return response.status_code


def sms_request(job: Job, settings: Settings) -> tuple[str, dict[str, str], bytes]:
    """Return the URL, headers and body of the gateway request that sends an SMS job."""
    if not settings.sms_gateway_url:
        raise RuntimeError("no SMS gateway is configured (STOCKPILOT_SMS_GATEWAY_URL)")
    text = (job.body or job.subject)[:SMS_MAX_CHARS]
    url = settings.sms_gateway_url.replace("{to}", quote(job.recipient, safe="")).replace(
        "{text}", quote(text, safe="")
    )
    headers = {"X-StockPilot-Event": job.event}
    if settings.sms_gateway_auth_header:
        name, _, value = settings.sms_gateway_auth_header.partition(":")
        headers[name.strip()] = value.strip()
    body = b""
    if settings.sms_gateway_body:
        # json.dumps escapes quotes and newlines; its outer quotes are the template's own.
        escaped = {k: json.dumps(v)[1:-1] for k, v in (("to", job.recipient), ("text", text))}
        rendered = settings.sms_gateway_body
        for key, value in escaped.items():
            rendered = rendered.replace("{" + key + "}", value)
        body = rendered.encode()
        headers["Content-Type"] = settings.sms_gateway_content_type
    return url, headers, body


def _send_sms(job: Job, settings: Settings) -> None:
    url, headers, body = sms_request(job, settings)
    status = _post(url, content=body, headers=headers, timeout=settings.notify_timeout)
    if status >= 300:
        raise RuntimeError(f"SMS gateway answered HTTP {status}")


def _deliver(job: Job, settings: Settings) -> str | None:
    """Send one job; return None on success or the error text."""
    try:
        if job.channel == "email":
            _send_email(job, settings)
        elif job.channel == "sms":
            _send_sms(job, settings)
        else:
            _send_webhook(job, settings)
    except Exception as exc:  # noqa: BLE001 - any failure of the far side is a retry
        return f"{type(exc).__name__}: {exc}"[:1000]
    return None


def dispatch_due(
    factory: sessionmaker[Session] | Engine,
    *,
    settings: Settings,
    limit: int = 50,
    now: datetime | None = None,
) -> int:
    """Deliver the notifications that are due; return how many were delivered."""
    if isinstance(factory, Engine):
        factory = make_sessionmaker(factory)
    now = now or utcnow()
    with transaction(factory) as session:
        jobs = _claim(session, settings=settings, now=now, limit=limit)
    delivered = 0
    for job in jobs:
        error = _deliver(job, settings)
        with transaction(factory) as session:
            row = session.get(Notification, job.id)
            if row is None:
                continue
            if error is None:
                row.status = "delivered"
                row.delivered_at = utcnow()
                row.last_error = None
                delivered += 1
            elif job.attempts >= settings.notify_max_attempts:
                row.status = "failed"
                row.last_error = error
                log.warning("notification %s failed for good: %s", job.id, error)
            else:
                row.last_error = error
                row.next_attempt_at = now + backoff(settings, job.attempts)
    return delivered


def run_forever(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    stop: threading.Event,
    interval: float | None = None,
) -> None:
    """Dispatch until stopped, sleeping between rounds that found nothing to do."""
    interval = settings.notify_poll_seconds if interval is None else interval
    while not stop.is_set():
        try:
            busy = dispatch_due(factory, settings=settings)
            # The same worker runs the domains' chores (orders releases the stock of unpaid
            # online orders, SKIP LOCKED too), registered in their receivers.py.
            busy += jobs.run_rounds(factory)
        except Exception:  # noqa: BLE001 - a bad round must not kill the worker
            log.exception("notification dispatch round failed")
            busy = 0
        if not busy:
            stop.wait(interval)


def in_server_worker(app: FastAPI) -> Callable[[], None]:
    """Start the dispatcher in a thread of the server process; return its stop function."""
    return background.start(
        "notification-dispatcher",
        run_forever,
        factory=app.state.sessions,
        settings=app.state.settings,
    )
