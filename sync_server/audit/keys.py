"""The audit chain's HMAC keys: kept outside the database, named by a key id, rotatable.

The server attaches its keyring to its engine (create_app, the CLI); a session bound to an
engine nobody attached one to reads the settings (STOCKPILOT_AUDIT_KEY or the data dir).
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sync_server.config import Settings


def key_id(secret: str) -> str:
    """Return the public name of a key (a hash of it that reveals nothing usable)."""
    return hashlib.sha256(b"stockpilot-audit-key-id:" + secret.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current key (signs new entries) and retired ones (verify what they signed)."""

    current_id: str
    secrets_by_id: dict[str, bytes] = field(repr=False)

    @classmethod
    def from_keys(cls, *, current: str, retired: tuple[str, ...] = ()) -> Keyring:
        """Build a keyring from key texts; the current key is used for every new MAC."""
        secrets = {key_id(k): k.encode() for k in retired}
        secrets[key_id(current)] = current.encode()
        return cls(current_id=key_id(current), secrets_by_id=secrets)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """Build the keyring the settings name (generating the key file on first use)."""
        current, retired = settings.resolved_audit_keys
        return cls.from_keys(current=current, retired=retired)

    def knows(self, kid: str | None) -> bool:
        """Say whether a key id names a key of this ring."""
        return kid is not None and kid in self.secrets_by_id

    def mac(self, data: bytes, *, kid: str | None = None) -> str:
        """Return the hex HMAC-SHA256 of data under a key (the current one by default)."""
        secret = self.secrets_by_id[kid or self.current_id]
        return hmac.new(secret, data, hashlib.sha256).hexdigest()

    def check(self, data: bytes, mac: str | None, *, kid: str | None) -> bool:
        """Say whether mac is data's HMAC under the named key (constant-time)."""
        if mac is None or not self.knows(kid):
            return False
        return hmac.compare_digest(self.mac(data, kid=kid), mac)


_ATTACHED: weakref.WeakKeyDictionary[Engine, Keyring] = weakref.WeakKeyDictionary()


def attach(engine: Engine, keyring: Keyring) -> None:
    """Make every session on this engine sign and verify with this keyring."""
    _ATTACHED[engine] = keyring


def keyring_for(session: Session) -> Keyring:
    """Return the keyring of the session's engine (from the settings if none was attached)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    keyring = _ATTACHED.get(engine)
    if keyring is None:
        keyring = Keyring.from_settings(Settings())
        _ATTACHED[engine] = keyring
    return keyring


def head_message(
    *, tenant_id: int, last_seq: int, last_hash: str, keyed_from_seq: int, legacy_max_id: int
) -> bytes:
    """Return what a chain head's MAC covers."""
    return (f"head|{tenant_id}|{last_seq}|{last_hash}|{keyed_from_seq}|{legacy_max_id}").encode()
