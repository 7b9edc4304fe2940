"""Each kind of credential goes to the resolver its domain registered; the rest are refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from common.errors import AuthenticationFailed
from common.sync.protocol import DEVICE_TOKEN_PREFIX
from sync_server.apikeys.service import KEY_PREFIX, resolve_api_key
from sync_server.auth.tokens import resolve_user_token
from sync_server.foundation import credentials
from sync_server.foundation.principal import Principal
from sync_server.sync.devices import resolve_device_token

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_credentials_of_each_kind_are_refused_by_their_own_resolver(engine) -> None:
    with Session(engine) as session:
        with pytest.raises(AuthenticationFailed, match="API key is not recognised"):
            credentials.resolve(session, token=f"{KEY_PREFIX}nothing", secret="s")
        with pytest.raises(AuthenticationFailed, match="device credential is not recognised"):
            credentials.resolve(session, token=f"{DEVICE_TOKEN_PREFIX}nothing", secret="s")
        with pytest.raises(AuthenticationFailed, match="not recognised"):
            credentials.resolve(session, token="plain-words", secret="s")


def test_a_prefix_has_one_resolver() -> None:
    credentials.load_receivers()
    credentials.register_resolver(KEY_PREFIX, resolve_api_key)  # the same again: no change
    with pytest.raises(ValueError, match="already have a resolver"):
        credentials.register_resolver(KEY_PREFIX, resolve_device_token)


def test_access_tokens_have_one_resolver() -> None:
    def another(session: Session, *, token: str, secret: str) -> Principal:
        raise AuthenticationFailed("never asked")

    credentials.load_receivers()
    credentials.register_signed_token_resolver(resolve_user_token)  # the same again: no change
    with pytest.raises(ValueError, match="already have a resolver"):
        credentials.register_signed_token_resolver(another)


def test_a_process_that_imported_only_the_registry_resolves_every_kind(tmp_path: Path) -> None:
    """Nothing imports auth, apikeys or sync first: the resolvers still answer."""
    script = """
    import sys
    from sqlalchemy.orm import Session
    from common.errors import AuthenticationFailed
    from sync_server.foundation.credentials import resolve
    from sync_server.db import make_engine
    from sync_server.migrations.runner import upgrade

    engine = make_engine(sys.argv[1])
    upgrade(engine)
    with Session(engine) as session:
        for token in ("spk_nothing", "spd_nothing", "not.a.jwt"):
            try:
                resolve(session, token=token, secret="s")
            except AuthenticationFailed as exc:
                print(exc)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), f"sqlite:///{tmp_path / 'c.db'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "API key is not recognised" in done.stdout
    assert "device credential is not recognised" in done.stdout
    assert "The access token is not valid." in done.stdout  # auth's resolver, registered
