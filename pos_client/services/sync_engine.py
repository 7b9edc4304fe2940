"""The till's sync engine: push the outbox, pull changes, back off while offline.

Qt-free so it is tested without a GUI; pos_client/qt/sync_worker.py runs it off the UI
thread and turns its status into signals.
"""

from __future__ import annotations

import gc
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from common.sqlite_files import DISK_FULL, disk_full
from common.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    EnrolResponse,
    EventType,
    PullResponse,
    PushResponse,
    PushResult,
    PushStatus,
)
from common.sync.series import DeviceSeries
from common.tls import client_context
from pos_client.services.changes import OpChanges, pulled
from pos_client.store import documents, outbox, replica, sent_log
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, utcnow

log = logging.getLogger("stockpilot.till.sync")
API = "/api/v1"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the till shows: online, offline since when, how much is waiting, what failed."""

    online: bool = False
    offline_since: datetime | None = None
    pending: int = 0
    rejected: int = 0
    last_error: str | None = None
    last_sync_at: datetime | None = None
    syncing: bool = False
    revoked: bool = False
    # How far this till's clock is from the server's, in seconds (positive: ahead).
    clock_skew: float | None = None


class SyncFailed(Exception):
    """A cycle could not finish; the reason goes into the status, the work stays queued."""

    def __init__(
        self,
        message: str,
        *,
        unreachable: bool = False,
        revoked: bool = False,
        status: int | None = None,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        # Nothing answered at all (connection refused, no route): retrying costs the server
        # nothing, so the till keeps trying every few seconds and catches up at once.
        self.refused = refused
        self.revoked = revoked
        self.status = status


class SyncEngine:
    """Push and pull for one local store; one cycle at a time, extra triggers coalesce."""

    def __init__(
        self,
        store: LocalStore,
        *,
        server_url: str | None = None,
        batch_size: int = 100,
        pull_limit: int = DEFAULT_PULL_LIMIT,
        timeout: float = 30.0,
        poll_interval: float = 30.0,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        connect_retry_max: float = 5.0,
        on_status: Callable[[SyncStatus], None] | None = None,
        on_changes: Callable[[OpChanges], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        # The till's own clock (injected in tests): pushes say what it reads.
        self.clock = clock
        self.batch_size = batch_size
        self.pull_limit = pull_limit
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.connect_retry_max = connect_retry_max
        self._refused = False
        self.on_status = on_status
        # Told, from the sync thread, what a push or a pulled page changed in the store.
        self.on_changes = on_changes
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._transport = transport
        self._server_url = server_url
        self._cycle_lock = threading.Lock()
        self._again = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Set while no loop runs: stop() waits on it before closing the connection pool.
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._failures = 0
        self._status = SyncStatus()
        self._status_lock = threading.Lock()
        self._client: httpx.Client | None = None
        # Asked once per start: a till restored from an old backup starts again, and must
        # take up its receipt series where the server has it, not where the backup had it.
        self._series_checked = False
        # Events queued again after the server was found restored from an older backup.
        self.resent_after_restore = 0
        self._refresh_status()

    # --- setup -------------------------------------------------------------------------

    def enrol(self, *, server_url: str, code: str, name: str) -> EnrolResponse:
        """Exchange a one-time code for this till's credential and remember it."""
        try:
            with httpx.Client(
                timeout=self._timeout, transport=self._transport, verify=client_context()
            ) as client:
                response = client.post(
                    f"{server_url.rstrip('/')}{API}/devices/enrol",
                    json={"code": code, "name": name},
                )
        except httpx.HTTPError as exc:
            raise SyncFailed(unreachable_message(server_url, exc), unreachable=True) from exc
        if response.status_code != 201:
            raise SyncFailed(_enrol_refusal(server_url, response), status=response.status_code)
        try:
            answer = EnrolResponse.model_validate(response.json())
        except ValueError as exc:
            raise SyncFailed(_not_stockpilot(server_url)) from exc
        with self.store.transaction() as session:
            documents.configure_device(
                session,
                device_id=answer.device_id,
                token=answer.token,
                tenant_id=answer.tenant_id,
                branch_id=answer.branch_id,
                branch_code=answer.branch_code,
                receipt_prefix=answer.receipt_prefix,
                name=answer.name,
                server_url=server_url,
            )
        self._server_url = server_url
        self._refresh_status()
        return answer

    @property
    def status(self) -> SyncStatus:
        """Return the latest status."""
        with self._status_lock:
            return self._status

    # --- one cycle ---------------------------------------------------------------------

    def sync_once(self) -> SyncStatus:
        """Push then pull until both are done; if a cycle is running, ask it to go again."""
        if not self._cycle_lock.acquire(blocking=False):
            self._again.set()
            return self.status
        try:
            while True:
                self._again.clear()
                self._set_status(syncing=True)
                self._cycle()
                if not self._again.is_set():
                    break
        finally:
            self._cycle_lock.release()
        return self.status

    def _cycle(self) -> None:
        try:
            self.push()
            if not self._series_checked:
                self.check_series()
            self.pull()
        except SyncFailed as exc:
            self._failures += 1
            self._refused = exc.refused
            now = utcnow()
            previous = self.status
            self._refresh_status(
                online=False if exc.unreachable else previous.online,
                offline_since=(previous.offline_since or now) if exc.unreachable else None,
                last_error=str(exc),
                revoked=exc.revoked,
                syncing=False,
            )
            log.info("sync failed (%s); next try in %.1fs", exc, self.next_delay())
            return
        except OperationalError as exc:
            if not disk_full(exc):
                raise
            # Nothing can be written, not even this failure: say so without touching the
            # store. What the server applied stays queued and comes back as a duplicate.
            self._failures += 1
            self._set_status(
                syncing=False,
                last_error=f"{DISK_FULL}: sales are kept; syncing waits for free space",
            )
            log.warning("sync stopped: %s", exc)
            return
        self._failures = 0
        self._refused = False
        self._refresh_status(
            online=True,
            offline_since=None,
            last_error=None,
            last_sync_at=utcnow(),
            syncing=False,
            revoked=False,
        )

    def push(self) -> int:
        """Send the outbox in batches; drop what the server applied or already had.

        Events the server rejected are asked about once more at the end: a manager may
        have applied them from the dead letters since, and then they are answered as
        duplicates and leave the outbox.
        """
        sent = 0
        limit = self.batch_size
        while bodies := self._batch(limit=limit, rejected=False):
            outcome = self._send(bodies)
            if outcome is not None:
                sent += outcome
            elif len(bodies) > 1:
                # One malformed event must not hold back the rest: send one at a time
                # until it is found, then full batches again.
                limit = 1
            else:
                self._acknowledge(bodies, [_refused(bodies[0][0])])
                limit = self.batch_size
        if again := self._batch(limit=self.batch_size, rejected=True):
            sent += self._send(again) or 0
        return sent

    def _batch(self, *, limit: int, rejected: bool) -> list[tuple[str, str, str]]:
        with self.store.transaction() as session:
            rows = outbox.next_batch(session, limit=limit, rejected=rejected)
            return [(row.event_id, row.type, row.body) for row in rows]

    def _send(self, bodies: list[tuple[str, str, str]]) -> int | None:
        """Push one batch; return how many left the outbox, None if the server refused it."""
        events = [json.loads(body) for _, _, body in bodies]
        try:
            body = {"events": events, "sent_at": self.clock().isoformat()}
            response = self._request("POST", "/sync/push", json=body)
        except SyncFailed as exc:
            if exc.status == 422:
                return None
            # The events stay queued; the outbox says how often they were tried and why not.
            with self.store.transaction() as session:
                outbox.note_failure(
                    session, event_ids=[id_ for id_, _, _ in bodies], error=str(exc)
                )
            raise
        answer = PushResponse.model_validate(response.json())
        if answer.clock_skew_seconds is not None:
            self._set_status(clock_skew=answer.clock_skew_seconds)
        return self._acknowledge(bodies, answer.results)

    def _acknowledge(self, bodies: list[tuple[str, str, str]], results: list[PushResult]) -> int:
        with self.store.transaction() as session:
            self._link_customers(session, bodies=bodies, results=results)
            dropped = outbox.acknowledge(session, results=results)
            documents.get_state(session).last_push_at = utcnow()
        self._refresh_status()
        if dropped:
            self._changed(OpChanges(outbox=True))
        return dropped

    @staticmethod
    def _link_customers(
        session: Session, *, bodies: list[tuple[str, str, str]], results: list[PushResult]
    ) -> None:
        """Give customers made offline the server ids the push answered with."""
        local_ids = {
            event_id: json.loads(body)["payload"]["local_id"]
            for event_id, type_, body in bodies
            if type_ == EventType.CUSTOMER_CREATED
        }
        for result in results:
            local_id = local_ids.get(result.id)
            acknowledged = result.status in (PushStatus.APPLIED, PushStatus.DUPLICATE)
            if local_id and acknowledged and result.customer_id is not None:
                replica.link_customer(session, local_id=local_id, server_id=result.customer_id)

    def pull(self) -> int:
        """Fetch pages after the stored cursor; each page and its cursor commit together."""
        with _fewer_collections():
            return self._pull()

    def _pull(self) -> int:
        applied = 0
        while True:
            with self.store.transaction() as session:
                cursor = documents.get_state(session).cursor
            response = self._request(
                "GET", "/sync/pull", params={"cursor": cursor, "limit": self.pull_limit}
            )
            page = PullResponse.model_validate_json(response.content)
            with self.store.transaction() as session:
                state = documents.get_state(session)
                if state.cursor != cursor:
                    # Someone reset the store underneath us; start the page over.
                    continue
                if page.reset and _past_snapshot(cursor) and not page.expired:
                    # A server restored from an older backup sends a till back to a snapshot:
                    # it lost what was pushed since, so everything kept goes again. (A cursor
                    # older than the feed's retention is sent back too, with nothing lost.)
                    requeued = sent_log.requeue(session)
                    self.resent_after_restore += requeued
                    log.warning("the server went back in time; sending %s events again", requeued)
                    self._again.set()
                if page.reset:
                    replica.reset(session)
                replica.apply_changes(session, page.changes)
                state.cursor = page.cursor
                state.last_pull_at = utcnow()
                if page.snapshot and not page.has_more:
                    state.snapshot_complete = True
            applied += len(page.changes)
            if page.changes or page.reset:
                self._changed(pulled({c.entity for c in page.changes}, reset=page.reset))
            if not page.has_more:
                return applied

    def check_series(self) -> int:
        """Take up the receipt series where the server has it; return the next number's seq."""
        try:
            answer = DeviceSeries.model_validate(self._request("GET", "/sync/series").json())
        except SyncFailed as exc:
            if exc.status is None:
                raise  # offline or revoked: ask again next time
            self._series_checked = True  # a server from before the series answer
            return 0
        except ValueError:
            self._series_checked = True
            return 0
        with self.store.transaction() as session:
            state = documents.get_state(session)
            if state.receipt_prefix == answer.receipt_prefix and (
                (state.last_receipt_seq or 0) < answer.last_receipt_seq
            ):
                log.warning(
                    "receipt series was behind the server (%s < %s): an old backup; moving on",
                    state.last_receipt_seq,
                    answer.last_receipt_seq,
                )
                state.last_receipt_seq = answer.last_receipt_seq
            seq = (state.last_receipt_seq or 0) + 1
        self._series_checked = True
        return seq

    # --- background loop ---------------------------------------------------------------

    def trigger(self, *, reset_backoff: bool = False) -> None:
        """Ask for a cycle soon (after a sale, "Sync now", or when the network comes back).

        reset_backoff starts the backoff over, so a failure after it waits seconds, not minutes.
        """
        if reset_backoff:
            self._failures = 0
        self._wake.set()

    def next_delay(self) -> float:
        """Return seconds to the next cycle: the poll interval, or backoff with jitter."""
        if self._failures == 0:
            return self.poll_interval
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (self._failures - 1)))
        if self._refused:
            ceiling = min(ceiling, self.connect_retry_max)
        # Full jitter: tills of a chain that lost the network together do not retry together.
        return random.uniform(ceiling / 2, ceiling)

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop (waiting for it up to timeout) and close the connection pool."""
        self._stop.set()
        self._wake.set()
        self._loop_done.wait(timeout)
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self) -> None:
        """Run cycles until stop(): the body of the sync thread `qt/sync_worker.py` starts."""
        self._loop_done.clear()
        try:
            while not self._stop.is_set():
                try:
                    self.sync_once()
                except Exception:  # a bug must not kill the loop; it shows in log and status
                    log.exception("sync cycle crashed")
                    self._failures += 1
                    self._set_status(syncing=False, last_error="internal error; see the log")
                self._wake.wait(self.next_delay())
                self._wake.clear()
        finally:
            self._loop_done.set()

    # --- plumbing ----------------------------------------------------------------------

    def call(self, method: str, path: str, *, json: Any = None) -> Any:
        """Call the server with this till's credential; return the JSON answer.

        For what the till asks the server while online (a gift card's balance, a cart held
        at another till). Raises SyncFailed (unreachable=True when the server is not there).
        """
        response = self._request(method, path, json=json)
        return response.json() if response.content else None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.store.transaction() as session:
            state = documents.get_state(session)
            token, url = state.device_token, self._server_url or state.server_url
        if not token or not url:
            raise SyncFailed("This till is not enrolled.")
        if self._client is None:
            self._client = httpx.Client(
                timeout=self._timeout, transport=self._transport, verify=client_context()
            )
        try:
            response = self._client.request(
                method,
                f"{url.rstrip('/')}{API}{path}",
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )
        except httpx.TransportError as exc:
            # Unreachable, timed out, or the answer was lost: everything stays queued.
            raise SyncFailed(
                f"server unreachable: {exc.__class__.__name__}",
                unreachable=True,
                refused=isinstance(exc, httpx.ConnectError),
            ) from exc
        if response.status_code == 401:
            raise SyncFailed(_problem_detail(response), revoked=True)
        if response.status_code >= 500:
            raise SyncFailed(f"server error {response.status_code}", unreachable=True)
        if response.status_code >= 400:
            raise SyncFailed(_problem_detail(response), status=response.status_code)
        return response

    def _refresh_status(self, **changes: Any) -> None:
        """Re-read the counts from the store and publish the status with changes applied."""
        with self.store.transaction() as session:
            state = documents.get_state(session)
            if changes.get("last_sync_at") is not None:
                state.last_sync_at = changes["last_sync_at"]
            changes.setdefault("last_sync_at", state.last_sync_at)
            if "offline_since" in changes:
                state.offline_since = changes["offline_since"]
            else:
                changes["offline_since"] = state.offline_since
            changes["pending"] = outbox.pending_count(session)
            changes["rejected"] = (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.rejected.is_(True))
                )
                or 0
            )
        self._set_status(**changes)

    def _changed(self, changes: OpChanges) -> None:
        if changes and self.on_changes is not None:
            self.on_changes(changes)

    def _set_status(self, **changes: Any) -> None:
        with self._status_lock:
            self._status = replace(self._status, **changes)
            status = self._status
        if self.on_status is not None:
            self.on_status(status)


# Allocations between young collections while a pull runs (CPython's default is 700).
PULL_GC_THRESHOLD = 20_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the young generation less often while pulled pages are parsed and applied.

    A snapshot page is thousands of parsed changes and rows, alive until the page commits: at
    the default threshold the collector starts every few rows and walks them again and again.
    """
    first, second, third = gc.get_threshold()
    gc.set_threshold(max(first, PULL_GC_THRESHOLD), second, third)
    try:
        yield
    finally:
        gc.set_threshold(first, second, third)


def _past_snapshot(cursor: str) -> bool:
    """Say whether a cursor is a feed position (the till had finished a snapshot)."""
    return cursor not in ("", "0") and not cursor.startswith("s")


def _refused(event_id: str) -> PushResult:
    return PushResult(
        id=event_id, status=PushStatus.REJECTED, reason="refused by the server as malformed"
    )


def unreachable_message(server_url: str, error: httpx.HTTPError) -> str:
    """Say what to check when the server cannot be reached, instead of a socket error."""
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return (
            f"'{server_url}' is not a server address; write it with http:// or https:// and "
            "the port, e.g. http://192.168.1.10:8765."
        )
    if isinstance(error, httpx.TimeoutException):
        return (
            f"The server at {server_url} did not answer in time. Check that this till is on "
            "the shop's network and that the server is running, then try again."
        )
    return (
        f"No StockPilot server answered at {server_url}. Check the address and port "
        "(ask the admin; e.g. http://192.168.1.10:8765), that the server is running, and "
        "that this till is on the shop's network."
    )


def _not_stockpilot(server_url: str) -> str:
    return (
        f"Something answered at {server_url}, but not a StockPilot server; check the "
        "address and port with the admin."
    )


def _enrol_refusal(server_url: str, response: httpx.Response) -> str:
    """Say why the server refused an enrolment (the code's fate, or a wrong address)."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return _not_stockpilot(server_url)  # every StockPilot refusal is a problem document
    detail = _problem_detail(response)
    if response.status_code == 401:
        return f"The server refused the enrolment code. {detail}"
    return detail


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.status_code)
    except ValueError:
        return f"HTTP {response.status_code}"
