"""Tell people about workflow events through the notifications domain."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from common.roles import Permission, Role, roles_with
from sync_server.auth.models import User


def send(
    session: Session, *, attachments: Sequence[tuple[str, str, bytes]] = (), **kwargs: Any
) -> None:
    """Queue a notification (same transaction); a no-op where notifications are not installed.

    attachments are (filename, content type, bytes) files that go with its e-mails.
    """
    try:
        notifications = importlib.import_module("sync_server.notifications.service")
    except ModuleNotFoundError:
        return
    files = [notifications.Attachment(name, kind, content) for name, kind, content in attachments]
    notifications.notify(session, attachments=files, **kwargs)


def approvers(permission: Permission, *, admin_only: bool = False) -> list[Role]:
    """Return the roles who may decide, in a stable order."""
    if admin_only:
        return [Role.ADMIN]
    return sorted(roles_with(permission), key=lambda role: role.value)


def to_creator(session: Session, *, user_id: int | None) -> dict[str, Any]:
    """Return notify() recipients reaching a document's creator: their role and their email."""
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        return {"roles": None, "email": None}
    return {"roles": [Role(user.role)], "email": user.email}
