"""stockpilot-till: the composition root that builds the till from injected services.

stockpilot-till --server https://stock.example --data-dir /var/lib/till   first run: a wizard
stockpilot-till --demo --data-dir /tmp/till      a demonstration shop, no server (prints its logins)
stockpilot-till backup | restore | --self-check  maintenance commands of the bundle
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication
from sqlalchemy.orm import Session, sessionmaker

from common.cli import CliError, OneLineParser, run_guarded
from pos_client.config import TillConfig, load_config, save_config
from pos_client.instance import InstanceLock, TillRunning
from pos_client.paths import default_data_dir, set_app_identity
from pos_client.qt.ops import OpRunner
from pos_client.scanners.hid import HidScannerFilter, ScanDetector
from pos_client.scanners.serial import SerialScannerReader
from pos_client.services.packs import find_pack
from pos_client.services.queries import (
    current_shift,
    customer_credit,
    ensure_search_index,
    find_by_codes,
    find_customers,
    pending_events,
    product_item,
    read_only_sessions,
    search_products,
    till_rules,
)
from pos_client.store.db import LocalStore
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.main_window import TillWindow
from pos_client.ui.till.receipts import ReceiptDesk
from pos_client.ui.widgets.messages import show_error

if TYPE_CHECKING:
    # Imported when sync starts: the till is ready to scan before the sync code is loaded.
    from pos_client.qt.sync_worker import SyncWorker
    from pos_client.services.sync_engine import SyncStatus

__version__ = "0.1.0"
log = logging.getLogger(__name__)


def stylesheet() -> str:
    """Return the till's stylesheet."""
    return resources.files("pos_client").joinpath("resources", "till.qss").read_text("utf-8")


@dataclass
class Till:
    """A running till: its window and everything that must be stopped with it."""

    window: TillWindow
    store: LocalStore
    runner: OpRunner
    receipts: ReceiptDesk
    hid: HidScannerFilter
    serial: SerialScannerReader | None
    sync: SyncWorker | None = None
    ready_s: float = 0.0
    reads: sessionmaker[Session] | None = None

    def close(self) -> None:
        """Stop scanners, sync, printing and the DB worker; close the store."""
        self.hid.uninstall()
        if self.serial is not None:
            self.serial.stop()
        if self.sync is not None:
            self.sync.stop()
        self.window.close()
        self.receipts.close()
        self.runner.close()
        if self.reads is not None:
            self.reads.kw["bind"].dispose()
        self.store.close()


def build_till(
    *,
    app: QApplication,
    config: TillConfig,
    store: LocalStore | None = None,
    sync: SyncWorker | None = None,
) -> Till:
    """Build the till window and wire scanners, printer, store and sync together."""
    started = time.perf_counter()
    app.setStyleSheet(stylesheet())
    store = store if store is not None else LocalStore(config.store_path)
    with store.engine.begin() as conn:
        ensure_search_index(conn)
    reads = read_only_sessions(store.path)
    with reads() as session:
        prime(session)
    runner = OpRunner(store=store, reads=reads)
    receipts = ReceiptDesk(
        printer=config.printer, pdf_dir=config.receipts_dir, width=config.receipt_width
    )
    window = TillWindow(ctx=TillContext(config=config, runner=runner, receipts=receipts))

    def report_error(exc: BaseException) -> None:
        show_error(window, exc)

    runner.on_error = report_error

    hid = HidScannerFilter(detector=make_detector(config))
    hid.install(app)
    hid.scanned.connect(window.scans.hid_scanned)
    hid.partial.connect(window.scans.scan_partial)
    serial = start_serial(window, config)
    if sync is not None:
        connect_sync(window, sync)
    # What start-up made lives as long as the till: keep the collector from walking it on
    # every full collection, which would otherwise pause a scan now and then.
    gc.freeze()
    till = Till(
        reads=reads,
        window=window,
        store=store,
        runner=runner,
        receipts=receipts,
        hid=hid,
        serial=serial,
        sync=sync,
        ready_s=time.perf_counter() - started,
    )
    window.devices_saved.connect(lambda changed: apply_devices(till, changed))
    return till


def make_detector(config: TillConfig) -> ScanDetector:
    """Return the keyboard-scanner rule the till's settings describe."""
    return ScanDetector(
        max_gap_ms=config.hid.max_gap_ms,
        stall_gap_ms=config.hid.stall_gap_ms,
        min_length=config.hid.min_length,
        adaptive=config.hid.adaptive,
    )


def apply_devices(till: Till, config: TillConfig) -> None:
    """Save new scanner and printer settings and use them at once."""
    save_config(config)
    window = till.window
    window.ctx.config = config
    till.hid.set_detector(make_detector(config))
    till.receipts.set_printer(config.printer)
    if till.serial is not None:
        till.serial.stop()
        till.serial.deleteLater()
    till.serial = start_serial(window, config)
    if till.serial is None:
        window.scanner_label.setText("Scanner ready")


def start_serial(window: TillWindow, config: TillConfig) -> SerialScannerReader | None:
    """Start reading the configured serial scanner into the window's pipeline."""
    if config.serial_scanner is None:
        return None
    serial = SerialScannerReader(config.serial_scanner)
    window.pipeline.connect_source(serial.scanned)
    serial.status_changed.connect(window.scans.set_scanner_status)
    serial.discarded.connect(window.scans.show_scanner_discard)
    serial.start()
    return serial


def show_sync_status(window: TillWindow, status: SyncStatus) -> None:
    """Put the sync engine's status in the till's status bar."""
    window.sync_status.set_state(
        online=status.online,
        offline_since=status.offline_since,
        error=status.last_error,
        clock_skew=status.clock_skew,
    )
    window.sync_status.set_pending(status.pending)


def prime(session: Session) -> None:
    """Run the till's reads once on the GUI thread before the DB thread starts.

    Their first run imports code lazily (SQLAlchemy compiles and loads as it goes); PySide's
    import hook is not safe to enter from a second thread while Qt runs, so that happens here.
    """
    find_by_codes(session, ("0",))
    find_pack(session, ("0",))
    search_products(session, "a")
    product_item(session, 0)
    customer_credit(session, "")
    find_customers(session, "a")
    current_shift(session)
    pending_events(session)
    till_rules(session)


def connect_sync(window: TillWindow, sync: SyncWorker) -> None:
    """Show the sync worker's status and changes, and nudge it after every sale."""
    sync.status_changed.connect(lambda status: show_sync_status(window, status))
    # What a cycle changed (outbox drained, catalog or stock pulled) refreshes the screens.
    sync.changed.connect(window.ctx.changes.publish)
    show_sync_status(window, sync.status)
    window.after_sale = sync.sync_now
    window.sync_now_handler = sync.sync_now
    window.state.sync_engine = sync.engine  # gift card balances, held sales of the branch
    window.sync_now_button.setVisible(True)


MAINTENANCE_HELP = """\
maintenance commands:
  stockpilot-till backup FILE [--data-dir DIR]    copy the local store to FILE (safe while
                                                  the till runs)
  stockpilot-till restore FILE [--data-dir DIR]   replace the local store with a till backup
                                                  (close the till first; the store as it was
                                                  is kept beside it)
  stockpilot-till --self-check [--verbose]        check this installation; exit 1 on a failure

exit codes: 0 done, 1 failed, 2 bad usage"""


def demo_logins() -> str:
    """Return the demo shop's sign-ins, to be printed where the person starting it sees them."""
    from pos_client.services.demo import DEMO_PIN, DEMO_STAFF

    people = ", ".join(f"{username} ({role})" for _, username, _, role in DEMO_STAFF)
    return f"Demo shop: sign in as {people}; PIN {DEMO_PIN} for each."


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


def start_sync(config: TillConfig, store: LocalStore) -> SyncWorker:
    """Start syncing off the UI thread; the till sells whether or not it reaches the server."""
    from pos_client.qt.sync_worker import SyncWorker
    from pos_client.services.sync_engine import SyncEngine

    worker = SyncWorker(SyncEngine(store, server_url=config.server_url))
    worker.start()
    return worker


def enrol_with_code(*, config: TillConfig, store: LocalStore, code: str) -> str | None:
    """Enrol without the wizard; return None when enrolled, else why not, in words."""
    import platform

    from pos_client.services.sync_engine import SyncEngine, SyncFailed

    try:
        SyncEngine(store, server_url=config.server_url).enrol(
            server_url=config.server_url, code=code, name=f"Till on {platform.node()}"
        )
    except (SyncFailed, OSError) as exc:
        return str(exc)
    return None


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
        body=lambda: run_till(args),
        translate=translate,
        # Unexpected errors are written beside the till's data, else to the temp folder.
        log_dirs=lambda: [Path(args.data_dir) / "logs"] if args.data_dir else [],
    )


def run_till(args: argparse.Namespace) -> int:
    """Open the till (or the back office) as the parsed arguments say; return the exit code."""
    app = QApplication(sys.argv[:1])
    set_app_identity()
    config = load_config(
        Path(args.data_dir) if args.data_dir else default_data_dir(), server_url=args.server
    )
    configure_logging(config.data_dir / "logs")
    if args.manager:
        from pos_client.ui.manager.window import run_back_office

        return run_back_office(app, server_url=config.server_url)
    # One till per store: a second one, or a restore, must not write under this one.
    lock = InstanceLock(config.store_path.parent).acquire()
    try:
        return _run_store_till(app, args=args, config=config)
    finally:
        lock.release()


def _store_checked(config: TillConfig) -> bool:
    """Restore a store a power cut damaged (see recovery.py) and tell the manager."""
    from PySide6.QtWidgets import QMessageBox

    from pos_client.recovery import StoreDamaged, closed_cleanly, recover_if_damaged

    if closed_cleanly(config.store_path):
        return True
    try:
        recovery = recover_if_damaged(store=config.store_path)
    except StoreDamaged as exc:
        logging.getLogger(__name__).error("%s", exc)
        QMessageBox.critical(None, "The till's database is damaged", str(exc))
        return False
    if recovery is not None:
        logging.getLogger(__name__).warning("%s", recovery.message())
        QMessageBox.warning(
            None,
            "The till's database was restored",
            f"{recovery.message()}\n\nThis note is kept in {recovery.report}.",
        )
    return True


def _run_store_till(app: QApplication, *, args: argparse.Namespace, config: TillConfig) -> int:
    """Open the local store, seed or enrol it if needed, and run the till window."""
    if not _store_checked(config):
        return 1
    store = LocalStore(config.store_path)
    from pos_client.store import documents

    with store.transaction() as session:
        enrolled = documents.get_state(session).device_id is not None
    if not enrolled and args.demo:
        from pos_client.services.demo import seed_demo

        with store.transaction() as session:
            seed_demo(session)
        enrolled = True
    if args.demo:
        print(demo_logins(), flush=True)
    refused = ""
    if not enrolled and args.enrol_code and config.server_url:
        refused = enrol_with_code(config=config, store=store, code=args.enrol_code) or ""
        enrolled = not refused
        if refused:
            print(
                f"The till was not enrolled with --enrol-code: {refused} "
                "Opening the set-up wizard instead.",
                file=sys.stderr,
                flush=True,
            )
    if not enrolled:
        from pos_client.ui.till.wizard import run_first_run_wizard

        app.setStyleSheet(stylesheet())
        made = run_first_run_wizard(
            config=config, store=store, code=args.enrol_code or "", notice=refused
        )
        if made is None:
            return 1
        config = made
    sync = None if args.demo else start_sync(config, store)
    till = build_till(app=app, config=config, store=store, sync=sync)
    till.window.show()
    try:
        return app.exec()
    finally:
        till.close()
        from pos_client.recovery import mark_closed_cleanly

        mark_closed_cleanly(config.store_path)


if __name__ == "__main__":
    sys.exit(main())
