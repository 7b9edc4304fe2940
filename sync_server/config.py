"""Typed settings of the sync server, read from STOCKPILOT_* environment variables."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Return where the embedded server keeps its files when nothing says otherwise."""
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOCKPILOT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    # A streaming replica for reads that tolerate lag (sync_server/replica.py); reads go back
    # to the primary while its lag exceeds replica_max_lag_seconds or it does not answer.
    database_replica_url: str | None = None
    replica_max_lag_seconds: float = 5.0
    # Connecting through PgBouncer in transaction pooling: no server-side prepared
    # statements (psycopg 3 would prepare on a statement's 6th run, and PgBouncer 1.18 hands
    # the next transaction another server connection that lacks it).
    db_pgbouncer: bool = False
    # Shared short-lived state (rate-limit windows) for several app servers: redis://host/0.
    redis_url: str | None = None
    secret_key: str | None = None
    # The audit chain's HMAC key (kept outside the database, like secret_key); unset: a key
    # generated once into <data_dir>/audit.key. Retired keys still verify what they sealed.
    audit_key: str | None = None
    audit_retired_keys: str | None = None  # comma-separated, newest first
    # Signed checkpoints of the chain head: every N minutes when it moved, into
    # <data_dir>/checkpoints/ and, when set, e-mailed to this address.
    audit_checkpoint_minutes: float = 60
    audit_checkpoint_email: str | None = None
    # The worker checks levels, reservations and balances against their ledgers once a day
    # at this UTC hour and raises an alert on a difference; -1 switches it off.
    ledger_verify_hour: int = 2
    # PostgreSQL's partitioned tables (sync_server/partitions.py): the keeper checks every
    # partition_check_seconds that ranges exist ahead of the newest ids, and drops change-feed
    # ranges whose every change is older than feed_retention_days (0 keeps the feed whole).
    # A till whose cursor is older than what is kept starts again from a full snapshot.
    feed_retention_days: int = Field(default=90, ge=0)
    partition_check_seconds: float = Field(default=300, gt=0)
    access_token_minutes: int = 15
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # An account guessed from many addresses is slowed (never locked): at most this pause.
    login_slowdown_max_seconds: float = 2.0
    db_pool_size: int = 5
    db_max_overflow: int = 10
    # How long a request queues for a database connection (and, on SQLite, for the one
    # write lock) before it is answered 503 with Retry-After: a burst gets prompt answers.
    db_wait_seconds: float = 1.5
    max_body_bytes: int = 1_000_000
    run_worker_in_server: bool = True
    # Rate limits per caller and minute; "memory" suits one process, "database" and "redis"
    # share the windows between several workers and servers. Unset: redis when redis_url is
    # set, else memory on SQLite and database on PostgreSQL.
    rate_limit_store: Literal["memory", "database", "redis", "off"] | None = None
    rate_limit_login_per_minute: int = 20
    rate_limit_write_per_minute: int = 300
    rate_limit_read_per_minute: int = 1200
    log_level: str = "INFO"
    # The operator's tenant API (POST/GET /api/v1/tenants): off unless switched on, and then
    # only for callers sending X-Operator-Key with this key (at least 32 characters).
    tenant_api: bool = False
    operator_key: str | None = None
    # Notification delivery: SMTP for e-mail; retries back off from notify_backoff_seconds.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "stockpilot@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # SMS through an HTTP gateway: {to} and {text} in the URL are URL-encoded, in the body
    # JSON-escaped; the auth header is "Name: value". No URL: SMS stay queued and retry.
    sms_gateway_url: str | None = None
    sms_gateway_auth_header: str | None = None
    sms_gateway_body: str | None = None
    sms_gateway_content_type: str = "application/json"
    notify_max_attempts: int = 6
    notify_backoff_seconds: float = 30
    notify_lease_seconds: float = 120
    notify_timeout: float = 10
    notify_poll_seconds: float = 5

    @cached_property
    def resolved_database_url(self) -> str:
        """Return the configured database, or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'stockpilot.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """Return the signing key; the embedded setup keeps a generated one in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key

    @cached_property
    def resolved_audit_keys(self) -> tuple[str, tuple[str, ...]]:
        """Return the current audit key and the retired ones (data dir files unless set)."""
        retired_file = self.data_dir / "audit-retired.keys"
        if self.audit_retired_keys is not None:
            retired = [k.strip() for k in self.audit_retired_keys.split(",")]
        elif retired_file.exists():
            retired = retired_file.read_text().splitlines()
        else:
            retired = []
        retired_keys = tuple(k.strip() for k in retired if k.strip())
        if self.audit_key:
            return self.audit_key, retired_keys
        key_file = self.data_dir / "audit.key"
        if key_file.exists() and key_file.read_text().strip():
            return key_file.read_text().strip(), retired_keys
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key, retired_keys

    @property
    def checkpoint_dir(self) -> Path:
        """Return where the worker writes signed audit checkpoints."""
        return self.data_dir / "checkpoints"
