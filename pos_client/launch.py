"""Open the till window: the composition root that builds the till from injected services.

`stockpilot-till` (pos_client/app.py) loads this module only when it opens a window, so its
maintenance commands (backup, restore, --help) start without Qt's widgets.
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

from pos_client.app import configure_logging
from pos_client.config import TillConfig, load_config, save_config
from pos_client.instance import InstanceLock
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
    hid.typing_starts.connect(window.scans.typing_starts)
    hid.typing_ended.connect(window.scans.typing_ended)
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


def demo_logins() -> str:
    """Return the demo shop's sign-ins, to be printed where the person starting it sees them."""
    from pos_client.services.demo import DEMO_PIN, DEMO_STAFF

    people = ", ".join(f"{username} ({role})" for _, username, _, role in DEMO_STAFF)
    return f"Demo shop: sign in as {people}; PIN {DEMO_PIN} for each."


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
