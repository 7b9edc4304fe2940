"""The benchmarks' load generator (bench/lean_http.py) against a real socket server.

A server's keep-alive timeout closes idle connections; a load generator that then sent a
request on one of them, or on a second stale one when retrying, counted a failed request
the server never saw (bench_orders printed it as a failure against a budget of zero).
"""

from __future__ import annotations

import asyncio

from bench.lean_http import LeanClient

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class KeepAliveServer:
    """Answers every request on a connection; closes a connection idle for `idle_s`."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_s)
                except (TimeoutError, asyncio.IncompleteReadError):
                    return
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.requests += 1
                await asyncio.sleep(0.05)  # long enough for requests sent together to overlap
                writer.write(ANSWER)
                await writer.drain()
        finally:
            writer.close()


def test_requests_after_the_servers_keep_alive_timeout_get_answers_on_new_connections() -> None:
    async def scenario() -> None:
        server = KeepAliveServer(idle_s=0.2)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        client = LeanClient(f"http://127.0.0.1:{port}", timeout=5)
        try:
            # Two requests at once: two connections, both idle in the client's pool after.
            first = await asyncio.gather(*(client.post("/x", json={"n": i}) for i in range(2)))
            assert [a.status_code for a in first] == [200, 200]
            assert server.connections == 2
            await asyncio.sleep(0.5)  # the server closes both (its keep-alive timeout)
            for n in range(3):
                answer = await client.post("/x", json={"n": n})
                assert (answer.status_code, answer.content) == (200, b"ok")
            # The stale connections were not used again: one new connection took the three.
            assert server.connections == 3
            assert server.requests == 5
        finally:
            client.close()
            listener.close()
            await listener.wait_closed()

    asyncio.run(scenario())
