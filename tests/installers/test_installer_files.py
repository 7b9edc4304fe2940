"""The installer files agree with the code: settings names, CLI flags, paths, the tarball."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

from sync_server.cli import build_parser
from sync_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
INSTALLERS = ROOT / "installers"


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in .desktop and unit files
    parser.read_string(path.read_text("utf-8"))
    return parser


def test_env_file_sets_only_settings_the_server_reads():
    fields = {name.upper() for name in Settings.model_fields}
    used_by_units = {"WEB_WORKERS", "PORT"}  # read by stockpilot-server.service's ExecStart
    keys = re.findall(
        r"^STOCKPILOT_([A-Z_]+)=",
        (INSTALLERS / "server" / "stockpilot.env").read_text("utf-8"),
        flags=re.M,
    )
    assert "DATABASE_URL" in keys and "SECRET_KEY" in keys
    assert set(keys) - used_by_units <= fields, set(keys) - used_by_units - fields


def test_systemd_units_run_commands_the_cli_accepts():
    server = _ini(INSTALLERS / "server" / "stockpilot-server.service")
    worker = _ini(INSTALLERS / "server" / "stockpilot-worker.service")
    for unit in (server, worker):
        assert {"Unit", "Service", "Install"} <= set(unit.sections())
        assert unit["Service"]["EnvironmentFile"] == "/etc/stockpilot/stockpilot.env"
        assert unit["Service"]["User"] == "stockpilot"
    command = server["Service"]["ExecStart"].replace("\\\n", " ").split()
    assert command[0].endswith("/stockpilot-server") and command[1] == "serve"
    args = [
        {"${STOCKPILOT_PORT}": "8765", "${STOCKPILOT_WEB_WORKERS}": "4"}.get(a, a)
        for a in command[1:]
    ]
    parsed = build_parser().parse_args(args)
    assert (parsed.host, parsed.port, parsed.workers) == ("127.0.0.1", 8765, 4)
    assert worker["Service"]["ExecStart"].split()[1:] == ["worker"]


def test_nginx_proxies_to_the_port_serve_listens_on():
    conf = (INSTALLERS / "server" / "nginx.conf").read_text("utf-8")
    default_port = build_parser().parse_args(["serve"]).port
    assert f"server 127.0.0.1:{default_port};" in conf
    assert "listen 443 ssl;" in conf and "return 301 https://" in conf
    assert conf.count("proxy_pass http://stockpilot;") == 2


def test_desktop_entry_and_icon():
    entry = _ini(INSTALLERS / "linux" / "stockpilot-till.desktop")["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"].startswith("/opt/stockpilot-till/")
    assert (INSTALLERS / "linux" / f"{entry['Icon']}.svg").is_file()
    svg = ET.parse(INSTALLERS / "linux" / f"{entry['Icon']}.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"


def test_inno_setup_script_never_removes_the_data_folder():
    iss = (INSTALLERS / "windows" / "stockpilot-till.iss").read_text("utf-8")
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", iss, flags=re.M | re.S))
    assert {"Setup", "Files", "Icons", "UninstallDelete"} <= set(sections)
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", sections["Setup"], flags=re.M)
    assert '"{group}\\{#AppName}"' in sections["Icons"]
    assert 'dist\\stockpilot-till"' in iss and "recursesubdirs" in sections["Files"]
    for section in ("Files", "UninstallDelete"):
        entries = [ln for ln in sections[section].splitlines() if not ln.startswith(";")]
        assert entries and "appdata}" not in "\n".join(entries).lower()


def test_make_tarball_packs_the_bundle_and_install_links_it(tmp_path):
    # A stand-in bundle: the real one takes a minute to build (test_bundle.py does that).
    bundle = tmp_path / "dist" / "stockpilot-till"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "stockpilot-till"
    exe.write_text("#!/bin/sh\necho 'StockPilot till 0.1.0'\n")
    exe.chmod(0o755)
    env = {**os.environ, "DIST": str(tmp_path / "dist")}
    result = subprocess.run(
        ["bash", str(INSTALLERS / "linux" / "make-tarball.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (tarball,) = (tmp_path / "dist").glob("stockpilot-till-0.1.0-linux-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "opt", filter="data")
    assert {
        "stockpilot-till/stockpilot-till",
        "stockpilot-till/install.sh",
        "stockpilot-till/stockpilot-till.desktop",
    } <= names

    prefix = tmp_path / "prefix"
    installed = subprocess.run(
        ["sh", str(tmp_path / "opt" / "stockpilot-till" / "install.sh")],
        env={**os.environ, "PREFIX": str(prefix)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    desktop = (prefix / "share" / "applications" / "stockpilot-till.desktop").read_text()
    assert f"Exec={tmp_path / 'opt' / 'stockpilot-till' / 'stockpilot-till'}" in desktop
    assert (prefix / "share/icons/hicolor/scalable/apps/stockpilot-till.svg").is_file()
    launcher = subprocess.run(
        [str(prefix / "bin" / "stockpilot-till")], capture_output=True, text=True, timeout=10
    )
    assert launcher.stdout.strip() == "StockPilot till 0.1.0"


def test_shell_scripts_parse():
    for script in (ROOT / "scripts" / "bundle.sh", INSTALLERS / "linux" / "make-tarball.sh"):
        assert subprocess.run(["bash", "-n", str(script)], timeout=10).returncode == 0


def test_chain_files_agree_with_the_server():
    """The chain's env sets real settings; its unit runs serve; its pooler pools transactions."""
    chain = INSTALLERS / "server" / "chain"
    fields = {name.upper() for name in Settings.model_fields}
    env = (chain / "stockpilot-chain.env").read_text("utf-8")
    keys = set(re.findall(r"^STOCKPILOT_([A-Z_]+)=", env, flags=re.M))
    assert {"DATABASE_URL", "DATABASE_REPLICA_URL", "DB_PGBOUNCER", "REDIS_URL"} <= keys
    assert keys - {"WEB_WORKERS", "PORT"} <= fields, keys - fields
    assert "target_session_attrs=read-write" in env and "STOCKPILOT_DB_PGBOUNCER=true" in env
    unit = _ini(chain / "stockpilot-server@.service")
    command = unit["Service"]["ExecStart"].replace("\\\n", " ").split()
    args = [{"%i": "8766", "${STOCKPILOT_WEB_WORKERS}": "2"}.get(a, a) for a in command[1:]]
    assert build_parser().parse_args(args).port == 8766
    bouncer = _ini(chain / "pgbouncer.ini")
    assert bouncer["pgbouncer"]["pool_mode"] == "transaction"
    assert int(bouncer["pgbouncer"]["query_wait_timeout"]) <= 10
    patroni = (chain / "patroni.yml").read_text("utf-8")
    assert "synchronous_mode: true" in patroni and "pgbouncer-on-role-change.sh" in patroni
    callback = chain / "pgbouncer-on-role-change.sh"
    assert os.access(callback, os.X_OK)
    assert subprocess.run(["sh", "-n", str(callback)], timeout=10).returncode == 0
