"""What the sync domain takes from below: the credentials of enrolled tills."""

from __future__ import annotations

from common.sync.protocol import DEVICE_TOKEN_PREFIX
from sync_server.foundation.credentials import register_kept_lookup, register_resolver
from sync_server.sync.devices import kept_device, resolve_device_token

register_resolver(DEVICE_TOKEN_PREFIX, resolve_device_token)
register_kept_lookup(DEVICE_TOKEN_PREFIX, kept_device)
