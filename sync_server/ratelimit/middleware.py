"""ASGI middleware that refuses callers over their limit before any work is done."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sync_server.errors import problem
from sync_server.ratelimit.service import RateLimiter, caller_key, route_class


class RateLimit:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path.endswith("/health"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("unknown", 0)
        key = caller_key(
            authorization=headers.get("authorization"),
            api_key=headers.get("x-api-key"),
            client=str(client[0]),
        )
        decision = self.limiter.check(key=key, klass=route_class(scope["method"], path))
        limit_headers = {
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.reset_s),
        }
        if not decision.allowed:
            response = problem(
                status=429,
                type_="too-many-requests",
                title="Too many requests",
                detail=f"Slow down: at most {decision.limit} such requests per window; "
                f"try again in {decision.reset_s} s.",
                instance=path,
                headers={**limit_headers, "Retry-After": str(decision.reset_s)},
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in limit_headers.items()
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
