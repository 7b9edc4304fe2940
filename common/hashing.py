"""Argon2id hashing of passwords and PINs; the till verifies synced PIN hashes offline."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's minimum Argon2id profile (19 MiB, 2 passes): fast enough for a till login,
# far too slow for offline guessing of a stolen hash.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_secret(secret: str) -> str:
    """Return an Argon2id hash of a password or PIN."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Say whether secret matches the stored hash; malformed or missing hashes never match."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Say whether a hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
