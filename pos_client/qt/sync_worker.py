"""Run the sync engine off the UI thread and report its status as a Qt signal."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from pos_client.qt.threads import start_thread
from pos_client.services.sync_engine import SyncEngine, SyncStatus


class SyncWorker(QObject):
    """Owns the engine's background thread; status_changed is delivered on the GUI thread.

    The engine calls back from its own thread; emitting a signal from there is safe, and
    Qt queues it to receivers living in the GUI thread. `changed` carries what a cycle
    changed (outbox drained, catalog or stock pulled), so screens refresh without polling.
    """

    status_changed = Signal(object)  # SyncStatus
    changed = Signal(object)  # OpChanges: what a push or a pulled page changed in the store

    def __init__(self, engine: SyncEngine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        engine.on_status = self.status_changed.emit
        engine.on_changes = self.changed.emit

    @property
    def status(self) -> SyncStatus:
        """Return the engine's latest status."""
        return self.engine.status

    def start(self) -> None:
        """Start syncing on the till's sync thread."""
        start_thread(self.engine.run, name="till-sync")
        self.engine.trigger()
        self.watch_network()

    def sync_now(self) -> None:
        """Ask for a cycle now (after a sale, or from "Sync now"), starting backoff over."""
        self.engine.trigger(reset_backoff=True)

    def watch_network(self) -> bool:
        """Sync at once when the system says the network is back (where Qt can tell)."""
        from PySide6.QtNetwork import QNetworkInformation

        if not QNetworkInformation.loadDefaultBackend():
            return False
        info = QNetworkInformation.instance()
        if info is None:
            return False
        online = QNetworkInformation.Reachability.Online

        def changed(reachability: QNetworkInformation.Reachability) -> None:
            if reachability == online:
                self.sync_now()

        info.reachabilityChanged.connect(changed)
        return True

    def stop(self) -> None:
        """Stop the background thread (on close)."""
        self.engine.stop()
