"""Print queue against real transports: a TCP printer on 127.0.0.1, a pty and a file."""

from __future__ import annotations

import os
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pos_client.printing.escpos import receipt_to_escpos
from pos_client.printing.queue import (
    PAPER_STATUS_QUERY,
    PrinterConfig,
    PrinterState,
    PrintQueue,
    parse_paper_status,
)
from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment

PAPER_OK = 0x12
PAPER_NEAR_END = 0x1E
PAPER_OUT = 0x72


class _PrinterHandler(socketserver.BaseRequestHandler):
    """Behave like an ESC/POS printer on port 9100: answer DLE EOT 4, keep the rest."""

    server: FakePrinter

    def handle(self) -> None:
        self.request.settimeout(5)
        place = self.server.places.pop(self.request)
        job = bytearray()
        while chunk := self.request.recv(65536):
            job += chunk
            # Real printers answer real-time status requests as soon as they arrive.
            while job.startswith(PAPER_STATUS_QUERY):
                del job[: len(PAPER_STATUS_QUERY)]
                self.server.queries += 1
                self.request.sendall(bytes([self.server.status]))
        with self.server.lock:
            self.server.arrivals[place] = bytes(job)


class FakePrinter(socketserver.ThreadingTCPServer):
    """A network receipt printer on 127.0.0.1 that records every job it receives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, status: int = PAPER_OK) -> None:
        super().__init__(("127.0.0.1", 0), _PrinterHandler, bind_and_activate=False)
        self.server_bind()
        self.status = status
        self.queries = 0
        self.arrivals: list[bytes | None] = []  # by connection, None while still arriving
        self.places: dict[object, int] = {}
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        # A real printer takes one connection at a time; this one serves each in a thread, so
        # a job keeps the place its connection was accepted in (here, in the accepting
        # thread), not the place its handler thread happened to finish in.
        with self.lock:
            self.places[request] = len(self.arrivals)
            self.arrivals.append(None)
        super().process_request(request, client_address)

    @property
    def jobs(self) -> list[bytes]:
        """The jobs received whole, in the order their connections arrived."""
        with self.lock:
            return [job for job in self.arrivals if job is not None]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def start(self) -> None:
        """Listen and serve; until then the bound port refuses connections."""
        self.server_activate()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
        self.server_close()


@pytest.fixture
def printer() -> Iterator[Callable[..., FakePrinter]]:
    """Make fake network printers, started unless asked otherwise, and stop them afterwards."""
    made: list[FakePrinter] = []

    def make(*, status: int = PAPER_OK, start: bool = True) -> FakePrinter:
        server = FakePrinter(status=status)
        made.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def make_queue(qtbot) -> Iterator[Callable[[PrinterConfig], PrintQueue]]:
    """Make print queues and close their worker threads afterwards."""
    queues: list[PrintQueue] = []

    def make(config: PrinterConfig) -> PrintQueue:
        print_queue = PrintQueue(config=config)
        queues.append(print_queue)
        return print_queue

    yield make
    for print_queue in queues:
        print_queue.close()


def receipt_job() -> bytes:
    """Return the ESC/POS job of a small real receipt."""
    receipt = Receipt(
        shop_name="Corner Shop",
        branch_name="Main",
        address_lines=(),
        receipt_number="R-7",
        issued_at=datetime(2024, 5, 1, 9, 30),
        cashier="Asha",
        lines=(
            ReceiptLine(
                "Crème brûlée",
                Decimal("2"),
                "pc",
                Decimal("120.00"),
                Decimal("0"),
                Decimal("240.00"),
            ),
        ),
        subtotal=Decimal("240.00"),
        discount_total=Decimal("0"),
        tax_total=Decimal("0"),
        total=Decimal("240.00"),
        payments=(ReceiptPayment("Cash", Decimal("240.00")),),
        change_due=Decimal("0"),
        customer=None,
        footer="Thanks",
        is_copy=False,
    )
    return receipt_to_escpos(receipt, codepage="cp858")


def network(server: FakePrinter, *, timeout_s: float = 3.0) -> PrinterConfig:
    return PrinterConfig(kind="network", target=server.target, timeout_s=timeout_s)


def test_network_printer_receives_exactly_the_job_bytes(qtbot, printer, make_queue) -> None:
    server = printer()
    print_queue = make_queue(network(server))
    data = receipt_job()
    with qtbot.waitSignal(print_queue.job_done, timeout=5000) as done:
        print_queue.submit("sale-1", data=data)
    assert done.args == ["sale-1"]
    qtbot.waitUntil(lambda: len(server.jobs) == 1, timeout=5000)
    assert server.jobs == [data]
    assert server.queries == 1
    assert print_queue.state == PrinterState.READY
    assert print_queue.failed_jobs == {}


def test_jobs_print_in_order(qtbot, printer, make_queue) -> None:
    server = printer()
    print_queue = make_queue(network(server))
    jobs = [f"job {i}\n".encode() for i in range(5)]
    with qtbot.waitSignals([print_queue.job_done] * 5, timeout=10000):
        for i, data in enumerate(jobs):
            print_queue.submit(f"j{i}", data=data)
    qtbot.waitUntil(lambda: len(server.jobs) == 5, timeout=5000)
    assert server.jobs == jobs


def test_paper_end_fails_the_job_as_out_of_paper(qtbot, printer, make_queue) -> None:
    server = printer(status=PAPER_OUT)
    print_queue = make_queue(network(server))
    with (
        qtbot.waitSignal(
            print_queue.state_changed, check_params_cb=lambda s: s == "out of paper", timeout=5000
        ),
        qtbot.waitSignal(print_queue.job_failed, timeout=5000) as failed,
    ):
        print_queue.submit("sale-2", data=receipt_job())
    assert failed.args == ["sale-2", "Printer out of paper"]
    assert print_queue.failed_jobs == {"sale-2": "Printer out of paper"}
    qtbot.waitUntil(lambda: len(server.jobs) == 1, timeout=5000)
    # Nothing was sent after the status answer, so the receipt is not half printed.
    assert server.jobs == [b""]

    server.status = PAPER_OK
    with qtbot.waitSignal(print_queue.job_done, timeout=5000):
        print_queue.retry("sale-2")
    qtbot.waitUntil(lambda: len(server.jobs) == 2, timeout=5000)
    assert server.jobs[1] == receipt_job()
    assert print_queue.state == PrinterState.READY


def test_paper_near_end_prints_and_warns(qtbot, printer, make_queue) -> None:
    server = printer(status=PAPER_NEAR_END)
    print_queue = make_queue(network(server))
    with qtbot.waitSignal(print_queue.job_done, timeout=5000):
        print_queue.submit("sale-3", data=b"hello\n")
    assert print_queue.state == PrinterState.PAPER_LOW


def test_refused_connection_is_offline_and_retry_prints_once_it_is_up(
    qtbot, printer, make_queue
) -> None:
    server = printer(start=False)
    print_queue = make_queue(network(server))
    data = receipt_job()
    with qtbot.waitSignal(print_queue.job_failed, timeout=5000) as failed:
        print_queue.submit("sale-4", data=data)
    assert failed.args == ["sale-4", "Printer offline"]
    assert print_queue.state == PrinterState.OFFLINE
    assert "sale-4" in print_queue.failed_jobs

    server.start()
    with qtbot.waitSignal(print_queue.job_done, timeout=5000) as done:
        print_queue.retry("sale-4")
    assert done.args == ["sale-4"]
    qtbot.waitUntil(lambda: len(server.jobs) == 1, timeout=5000)
    assert server.jobs == [data]
    assert print_queue.failed_jobs == {}
    with pytest.raises(KeyError):
        print_queue.retry("sale-4")


def test_silent_printer_times_out_within_bounds_without_blocking_submit(qtbot, make_queue) -> None:
    # Accepted by the kernel's backlog but never read or answered: a hung printer.
    with socket.create_server(("127.0.0.1", 0), backlog=4) as listener:
        port = listener.getsockname()[1]
        timeout_s = 0.5
        print_queue = make_queue(
            PrinterConfig(kind="network", target=f"127.0.0.1:{port}", timeout_s=timeout_s)
        )
        with qtbot.waitSignal(print_queue.job_failed, timeout=5000) as failed:
            started = time.monotonic()
            print_queue.submit("sale-5", data=receipt_job())
            submit_took = time.monotonic() - started
        elapsed = time.monotonic() - started
    assert submit_took < 0.05
    assert failed.args == ["sale-5", "Printer timed out"]
    assert timeout_s * 0.9 <= elapsed < timeout_s + 1.5
    assert print_queue.state == PrinterState.TIMED_OUT


def test_reprint_queues_a_new_job(qtbot, printer, make_queue) -> None:
    server = printer()
    print_queue = make_queue(network(server))
    with qtbot.waitSignal(print_queue.job_done, timeout=5000) as done:
        job_id = print_queue.reprint(b"copy\n")
    assert done.args == [job_id] and job_id.startswith("reprint-")
    qtbot.waitUntil(lambda: server.jobs == [b"copy\n"], timeout=5000)


def test_file_transport_appends_job_bytes(qtbot, tmp_path: Path, make_queue) -> None:
    target = tmp_path / "printer.bin"
    print_queue = make_queue(PrinterConfig(kind="file", target=str(target)))
    first, second = receipt_job(), b"\x1b@second\n"
    with qtbot.waitSignals([print_queue.job_done, print_queue.job_done], timeout=5000):
        print_queue.submit("a", data=first)
        print_queue.submit("b", data=second)
    assert target.read_bytes() == first + second


def test_missing_file_device_is_offline(qtbot, tmp_path: Path, make_queue) -> None:
    target = tmp_path / "no-such-dir" / "lp0"
    print_queue = make_queue(PrinterConfig(kind="file", target=str(target)))
    with qtbot.waitSignal(print_queue.job_failed, timeout=5000) as failed:
        print_queue.submit("c", data=b"x")
    assert failed.args == ["c", "Printer offline"]


def test_serial_transport_writes_to_the_port(qtbot, make_queue) -> None:
    controller, device = os.openpty()
    try:
        print_queue = make_queue(
            PrinterConfig(kind="serial", target=os.ttyname(device), baudrate=19200)
        )
        data = receipt_job()
        with qtbot.waitSignal(print_queue.job_done, timeout=5000):
            print_queue.submit("d", data=data)
        received = bytearray()
        deadline = time.monotonic() + 5
        while len(received) < len(data) and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                received += os.read(controller, 65536)
        assert bytes(received) == data
    finally:
        os.close(controller)
        os.close(device)


def test_missing_serial_port_is_offline(qtbot, make_queue) -> None:
    print_queue = make_queue(PrinterConfig(kind="serial", target="/dev/ttyDOESNOTEXIST"))
    with qtbot.waitSignal(print_queue.job_failed, timeout=5000) as failed:
        print_queue.submit("e", data=b"x")
    assert failed.args == ["e", "Printer offline"]


@pytest.mark.parametrize(
    ("value", "near_end", "out"),
    [(0x12, False, False), (0x1E, True, False), (0x72, False, True), (0x7E, True, True)],
)
def test_paper_status_bits(value: int, near_end: bool, out: bool) -> None:
    status = parse_paper_status(value)
    assert status is not None
    assert (status.near_end, status.out) == (near_end, out)


def test_bytes_that_are_not_a_status_answer_are_ignored() -> None:
    assert parse_paper_status(0x00) is None
    assert parse_paper_status(0xFF) is None


@pytest.mark.parametrize(
    ("target", "message"),
    [("", "empty"), ("printer:99999", "1..65535"), ("printer:abc", "bad port")],
)
def test_bad_network_targets_are_refused(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrinterConfig(kind="network", target=target)
