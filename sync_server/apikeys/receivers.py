"""What the API keys domain takes from below: the credentials that start like its keys."""

from __future__ import annotations

from sync_server.apikeys.service import KEY_PREFIX, kept_api_key, resolve_api_key
from sync_server.foundation.credentials import register_kept_lookup, register_resolver

register_resolver(KEY_PREFIX, resolve_api_key)
register_kept_lookup(KEY_PREFIX, kept_api_key)
