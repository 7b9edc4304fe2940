"""Wire shape of one changed tenant setting; the settings themselves are
`common.tenant_settings.TenantSettings`."""

from __future__ import annotations

from typing import Any

from common.schemas.base import ReadSchema


class SettingRead(ReadSchema):
    """A setting as stored after a change: its name and its value as it travels in JSON."""

    key: str
    value: Any
