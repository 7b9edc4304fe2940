"""ASGI layers every request passes: body size, clean query text, security headers."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.hygiene import bad_character
from sync_server import errors

# Headers on every answer; /docs and /redoc are pages, so they must not be framed either.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]
# Answers that carry a credential must never be kept by a browser or a proxy.
NO_STORE_PATHS = ("/auth/login", "/devices/enrol", "/devices/enrolment-codes", "/api-keys")


class SecurityHeaders:
    """Add nosniff and frame denial to every response; no-store where credentials travel."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        no_store = path.endswith(NO_STORE_PATHS) or "/api-keys/" in path

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"server" and not (no_store and k.lower() == b"cache-control")
                ]
                headers += SECURITY_HEADERS
                if no_store:
                    headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class CleanQuery:
    """Refuse a path or query string holding NUL, control or bidi characters (422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        complaint = _query_complaint(scope)
        if complaint is None:
            await self.app(scope, receive, send)
            return
        field, found = complaint
        response = errors.problem(
            status=422,
            type_="validation-error",
            title="Invalid input",
            detail=f"{field}: must not contain {found}",
            instance=scope.get("path"),
            errors=[{"field": field, "message": f"must not contain {found}"}],
        )
        await response(scope, receive, send)


def _query_complaint(scope: Scope) -> tuple[str, str] | None:
    path = scope.get("path", "")
    # A raw scan (GS1 element strings keep GS between fields) may travel in a path or query.
    found = bad_character(path, layout_ok=False, scans_ok=True)
    if found is not None:
        return "path", found
    raw = scope.get("query_string", b"").decode("latin-1")
    if not raw:
        return None
    for name, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        for text in (name, value):
            found = bad_character(text, layout_ok=False, scans_ok=True)
            if found is not None:
                return name if text is value else "query", found
    return None


class BodyLimit:
    """Refuse request bodies over a size limit (413), declared or chunked, before any use."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(scope, send)
                return
            await self.app(scope, self._counting(receive), send)
            return
        # No length declared (chunked): read it here, up to the limit, so a body that
        # turns out too big is a 413 rather than a parse error from deep inside a route.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                # The client sent more than it declared: stop reading it.
                return {"type": "http.disconnect"}
            return message

        return limited

    async def _refuse(self, scope: Scope, send: Send) -> None:
        response = errors.problem(
            status=413,
            type_="payload-too-large",
            title="Request body too large",
            detail=f"The request body is larger than {self.max_bytes} bytes.",
            instance=scope.get("path"),
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
