"""What the auth domain gives the foundation: the resolver of users' access tokens."""

from __future__ import annotations

from sync_server.auth.tokens import resolve_user_token
from sync_server.foundation.credentials import register_signed_token_resolver

register_signed_token_resolver(resolve_user_token)
