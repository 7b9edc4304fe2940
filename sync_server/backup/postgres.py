"""The documented pg_dump / pg_restore path for a server on PostgreSQL."""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from common.errors import ValidationFailed


def find_tool(name: str, *, bin_dir: str | None = None) -> str:
    """Return the path of pg_dump or pg_restore: --pg-bin, then PATH, then Debian's layout."""
    if bin_dir:
        candidate = Path(bin_dir) / name
        if candidate.is_file():
            return str(candidate)
        raise ValidationFailed(f"{name} is not in {bin_dir}")
    found = shutil.which(name)
    if found:
        return found
    # Debian and Ubuntu keep the versioned client tools off PATH; take the newest.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise ValidationFailed(
        f"{name} was not found; install the PostgreSQL client tools "
        "(Debian: postgresql-client) or pass --pg-bin"
    )


def libpq_args(url: str | URL) -> tuple[list[str], dict[str, str]]:
    """Split a SQLAlchemy URL into libpq options and environment (the password stays off argv)."""
    parsed = make_url(url) if isinstance(url, str) else url
    if not parsed.drivername.startswith("postgresql"):
        raise ValidationFailed("pg_dump needs a PostgreSQL STOCKPILOT_DATABASE_URL")
    args: list[str] = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    args += ["--dbname", parsed.database or "postgres"]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    if "host" in parsed.query:  # unix-socket directory given as ?host=/run/postgresql
        host = parsed.query["host"]
        env["PGHOST"] = host if isinstance(host, str) else host[0]
    return args, env


def dump_command(
    *, url: str, target: Path, bin_dir: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Return the pg_dump command (custom format: compressed, restorable table by table)."""
    args, env = libpq_args(url)
    return [
        find_tool("pg_dump", bin_dir=bin_dir),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--file",
        str(target),
        *args,
    ], env


def restore_command(
    *, url: str, source: Path, bin_dir: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Return the pg_restore command: drop what exists, restore all of it in one transaction."""
    args, env = libpq_args(url)
    return [
        find_tool("pg_restore", bin_dir=bin_dir),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        *args,
        str(source),
    ], env


def run(command: list[str], env: dict[str, str]) -> int:
    """Run a client tool with the password in its environment; return its exit code."""
    return subprocess.run(command, env={**os.environ, **env}, check=False).returncode


def shown(command: list[str], env: dict[str, str]) -> str:
    """Return the command as an operator would type it, with the password masked."""
    prefix = "PGPASSWORD=*** " if "PGPASSWORD" in env else ""
    if "PGHOST" in env:
        prefix += f"PGHOST={env['PGHOST']} "
    return prefix + shlex.join(command)
