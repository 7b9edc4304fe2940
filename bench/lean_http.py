"""A minimal HTTP/1.1 keep-alive client over asyncio streams, for the load generators.

httpx spends several milliseconds of CPU per request (about 11 ms a request in bench_scale's
1,000-store run, half a core), and on a 2-core machine that is CPU the servers under test
do not get. This speaks just enough HTTP/1.1 for our own API behind uvicorn or nginx: one
request at a time per connection, bodies framed by Content-Length or chunked, connections
kept and reused, at most `max_connections` open (a request beyond waits for one, as httpx's
pool limit makes it). A connection the server closed while idle (keep-alive timeout) is
not reused; one it closes as the request goes out is replaced by a new connection (not
another idle one, which may be just as old) and the request sent once more: every request
the benchmarks send is safe to repeat (pushes carry event ids, orders an
Idempotency-Key, the rest are reads).

A request may name the local address it comes from (`source`): on Linux every address of
127.0.0.0/8 is the loopback's, so a simulation can give each store its own address, as
stores behind their own lines have, and the server (through its proxy) tells them apart.
Connections are kept per source address.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpError(Exception):
    """The request got no answer: the connection failed or the timeout passed."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.kind = type(cause).__name__


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    content: bytes = b""

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class LeanClient:
    """Keep-alive connections to one host; `get` and `post` like httpx.AsyncClient's."""

    def __init__(self, base_url: str, *, max_connections: int = 400, timeout: float = 30) -> None:
        host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        self.host, self.port, self.timeout = host, int(port or 80), timeout
        self._idle: dict[str | None, list[Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def get(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> Answer:
        if params:
            path = f"{path}?{urlencode(params)}"
        return await self.request("GET", path, headers=headers, source=source)

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> Answer:
        body = jsonlib.dumps(json).encode()
        wanted = {"Content-Type": "application/json", **(headers or {})}
        return await self.request("POST", path, headers=wanted, body=body, source=source)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        source: str | None = None,
    ) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        async with self._slots:
            idle = self._idle.setdefault(source, [])
            for attempt in range(2):
                conn = self._take_idle(idle) if attempt == 0 else None
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await self._open(source)
                    answer, keep = await asyncio.wait_for(
                        self._exchange(conn, request, method), self.timeout
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    if conn is not None:
                        conn[1].close()
                    if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                        continue  # the server closed it while idle: once more on a new one
                    raise HttpError(exc) from exc
                if keep:
                    idle.append(conn)
                else:
                    conn[1].close()
                return answer
        raise AssertionError("unreachable")

    @staticmethod
    def _take_idle(idle: list[Connection]) -> Connection | None:
        """The most recently used idle connection the server has not closed, or None.

        A connection whose end of stream has arrived (the server's keep-alive timeout) is
        dropped here, as HTTP clients check a pooled connection before reusing it; one closed
        while the request is on its way fails, and the request goes once more on a new one.
        """
        while idle:
            conn = idle.pop()
            if not conn[0].at_eof():
                return conn
            conn[1].close()
        return None

    async def _open(self, source: str | None) -> Connection:
        local = (source, 0) if source else None
        return await asyncio.open_connection(self.host, self.port, local_addr=local)

    @staticmethod
    async def _exchange(conn: Connection, request: bytes, method: str) -> tuple[Answer, bool]:
        reader, writer = conn
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304):
            content = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size + 2))
            await reader.readuntil(b"\r\n")  # the last chunk's end (no trailers sent to us)
            content = b"".join(p[:-2] for p in parts)
        else:
            content = await reader.readexactly(int(headers.get("content-length", "0")))
        keep = headers.get("connection", "").lower() != "close"
        return Answer(status, headers, content), keep

    def close(self) -> None:
        for idle in self._idle.values():
            for _, writer in idle:
                writer.close()
        self._idle.clear()
