"""stockpilot-till: the till's command line; the window itself is opened by launch.py.

stockpilot-till --server https://stock.example --data-dir /var/lib/till   first run: a wizard
stockpilot-till --demo --data-dir /tmp/till      a demonstration shop, no server (prints its logins)
stockpilot-till backup | restore | --self-check  maintenance commands of the bundle

This module imports no Qt and no database code: backup, restore, --help and --version (and
bad usage) answer without loading the window, which launch.py builds when one is opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.cli import CliError, OneLineParser, run_guarded
from pos_client.instance import TillRunning

__version__ = "0.1.0"

MAINTENANCE_HELP = """\
maintenance commands:
  stockpilot-till backup FILE [--data-dir DIR]    copy the local store to FILE (safe while
                                                  the till runs)
  stockpilot-till restore FILE [--data-dir DIR]   replace the local store with a till backup
                                                  (close the till first; the store as it was
                                                  is kept beside it)
  stockpilot-till --self-check [--verbose]        check this installation; exit 1 on a failure

exit codes: 0 done, 1 failed, 2 bad usage"""


def build_parser() -> argparse.ArgumentParser:
    """Return the till's command-line parser."""
    parser = OneLineParser(
        prog="stockpilot-till",
        description="StockPilot till and manager screens.",
        epilog=MAINTENANCE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", default=None, help="sync server URL")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where the till keeps its local store and settings "
        "(default: the per-user app data folder, see pos_client/paths.py)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="fill an empty store with a demonstration shop (no server needed)",
    )
    parser.add_argument(
        "--manager", action="store_true", help="open the back-office screens (sign in online)"
    )
    parser.add_argument(
        "--enrol-code",
        default=None,
        help="enrol this till with a one-time code from 'stockpilot-server device enrol-code' "
        "instead of asking in the first-run wizard",
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check this installation (Qt, printing, scanners, store) and exit; 1 if a check fails",
    )
    parser.add_argument("--version", action="version", version=f"StockPilot till {__version__}")
    return parser


def configure_logging(folder: Path) -> Path | None:
    """Log everything to a rotating file; the terminal gets warnings and errors only.

    A till polls the server every 30 s: a line per request on the terminal hides what matters.
    """
    import logging.handlers

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.WARNING)
    terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(terminal)
    # Each HTTP request is logged by httpx at INFO; the sync status already says what matters.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "till.log"
        to_file = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        root.warning("cannot write the log file in %s: %s", folder, exc)
        return None
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    return path


def main(argv: list[str] | None = None) -> int:
    """Start the till window (or run backup, restore or the self-check)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["backup"], ["restore"]):
        from pos_client.backup import main_backup

        return main_backup(argv)
    if "--self-check" in argv:
        from pos_client.selfcheck import main_self_check

        return main_self_check(argv)
    args = build_parser().parse_args(argv)

    def translate(exc: BaseException) -> CliError | None:
        return CliError(str(exc)) if isinstance(exc, TillRunning) else None

    return run_guarded(
        prog="stockpilot-till",
        body=lambda: _open_window(args),
        translate=translate,
        # Unexpected errors are written beside the till's data, else to the temp folder.
        log_dirs=lambda: [Path(args.data_dir) / "logs"] if args.data_dir else [],
    )


def _open_window(args: argparse.Namespace) -> int:
    """Load the window's code (Qt, the store, the scanners) and open the till."""
    from pos_client.launch import run_till

    return run_till(args)


if __name__ == "__main__":
    sys.exit(main())
