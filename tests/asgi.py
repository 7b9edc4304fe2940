"""The in-process client the tests call the app with: Starlette's TestClient, one trip a request.

Starlette's TestClient runs the app in an event loop on a thread of its own (its portal) and
crosses to it about eight times for each request: to make two events, a stream and a cancel
scope, to start the app, to wait for the response's start and once for each piece of the
body. Each crossing wakes two threads (~0.15 ms of CPU); with the app's own work a request
to /health cost 2.2 ms of CPU where the app itself takes 0.9. The suite sends its requests
by the ten thousand, so this client sends each HTTP request in one crossing: the whole
request is given to the app and the whole response collected in the loop, then handed back.

The app sees what it sees from Starlette's transport (the same scope, the same receive and
send), and the test gets the same response: status, headers (as sent, nothing added), body.
An exception the app raises is raised in the test, as Starlette's does, unless the client
was made with raise_server_exceptions=False, when the test gets the 500 the app's error
handler sent (an empty 500 if the app sent nothing). WebSocket connections go through
Starlette's own transport unchanged. Responses come whole, not streamed: no test reads a
response as it arrives.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import anyio
import httpx
from fastapi.testclient import TestClient as StarletteTestClient
from starlette.testclient import _TestClientTransport
from starlette.types import ASGIApp, Message

_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Exchange:
    """One request given to the app whole and its response collected, inside the loop."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], body: bytes) -> None:
        self.app, self.scope, self.body = app, scope, body
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.error: Exception | None = None

    async def run(self) -> _Exchange:
        complete = anyio.Event()
        asked = False

        async def receive() -> Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            await complete.wait()  # asked again: the client is gone once the answer is whole
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                assert self.status is None, "the response was started twice"
                self.status = message["status"]
                self.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                assert self.status is not None, "a body was sent before the response started"
                self.chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    complete.set()

        try:
            await self.app(self.scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - handed to the calling thread to raise or not
            self.error = exc
        return self


class _OneTripTransport(_TestClientTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            return super().handle_request(request)  # a WebSocket: Starlette's own way
        headers = [] if "host" in request.headers else [(b"host", url.netloc)]
        headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.multi_items()]
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": request.method,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": self.root_path,
            "scheme": url.scheme,
            "query_string": url.query,
            "headers": headers,
            "client": self.client,
            "server": [url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[url.scheme]],
            "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
            "state": self.app_state.copy(),
        }
        exchange = _Exchange(self.app, scope, request.read())
        with self.portal_factory() as portal:
            portal.call(exchange.run)
        if exchange.error is not None and self.raise_server_exceptions:
            raise exchange.error
        if exchange.status is None:
            if self.raise_server_exceptions:
                raise AssertionError("TestClient did not receive any response.")
            return httpx.Response(500, stream=httpx.ByteStream(b""), request=request)
        body = b"" if request.method == "HEAD" else b"".join(exchange.chunks)  # as a server does
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=httpx.ByteStream(body),
            request=request,
        )


class TestClient(StarletteTestClient):
    """Starlette's TestClient (lifespan, cookies, redirects, WebSockets), one trip a request."""

    __test__ = False

    def __init__(self, app: ASGIApp, *args: Any, **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        theirs = self._transport
        assert isinstance(theirs, _TestClientTransport)
        self._transport = _OneTripTransport(
            theirs.app,
            portal_factory=theirs.portal_factory,
            raise_server_exceptions=theirs.raise_server_exceptions,
            root_path=theirs.root_path,
            client=theirs.client,
            app_state=theirs.app_state,
        )
