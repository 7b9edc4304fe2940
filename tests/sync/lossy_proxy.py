"""A loopback TCP proxy that can forward a request and then cut the reply."""

from __future__ import annotations

import contextlib
import socket
import threading


class LoopbackProxy:
    """Listen on a free loopback port and hand each connection to `_serve` on its own thread."""

    def __init__(self, *, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class LossyProxy(LoopbackProxy):
    """Forward bytes to a server; in 'cut' mode, drop the connection once the reply starts.

    The server has then done the work and answered, but the client never hears it: the
    case of a response lost in transit.
    """

    def __init__(self, *, upstream_port: int) -> None:
        self.mode = "pass"
        self.cuts = 0
        self.replies: list[bytes] = []
        super().__init__(upstream_port=upstream_port)

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if self.mode == "cut":
                    self.cuts += 1
                    break
                self.replies.append(chunk)
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
