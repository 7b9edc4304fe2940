"""ASGI middleware that refuses callers over their limit before any work is done."""

from __future__ import annotations

import logging

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.errors import problem
from sync_server.foundation.deps import primary_turn
from sync_server.ratelimit.service import (
    Decision,
    Limit,
    RateLimiter,
    TenantLimits,
    caller_credential,
    caller_key,
    route_class,
)

log = logging.getLogger("stockpilot.ratelimit")

# Saving this setting makes the saving worker forget its cached copy at once.
_SETTING_PATH = "/settings/rate_limits"


def _state(scope: Scope) -> object:
    return getattr(scope.get("app"), "state", None)


class RateLimit:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self.tenants: TenantLimits | None = None

    def _tenants(self, scope: Scope) -> TenantLimits | None:
        # Built on first use from the app's state: the app exists only once requests arrive.
        if self.tenants is None:
            state = getattr(scope.get("app"), "state", None)
            engine = getattr(state, "engine", None)
            settings = getattr(state, "settings", None)
            if engine is None or settings is None:
                return None
            self.tenants = TenantLimits(engine=engine, secret=settings.resolved_secret_key)
        return self.tenants

    async def _tenant_limit(
        self, scope: Scope, credential: str, klass: str
    ) -> tuple[int | None, Limit | None]:
        """Return the caller's tenant and its own limit for this class (None: the server's)."""
        # A login is counted by address before anyone is known: always the server's limit.
        tenants = self._tenants(scope) if credential and klass != "login" else None
        if tenants is None:
            return None, None
        try:
            known, tenant, limit = tenants.cached(credential, klass)
            if known:
                return tenant, limit
            # A cache miss reads the database: off the event loop, as request handlers do,
            # and within a turn at the pool, so look-ups never starve the requests' sessions.
            async with primary_turn(_state(scope)):
                return await anyio.to_thread.run_sync(tenants.load, credential, klass)
        except Exception as exc:  # noqa: BLE001 - a failed lookup must not fail the request
            log.warning(
                "could not look up the caller's own rate limits (%s); using the last known",
                exc.__class__.__name__,
            )
            # A credential's tenant never changes: it keeps its own budget meanwhile.
            return tenants.last_known(credential, klass)

    async def _check(self, scope: Scope, *, key: str, klass: str, limit: Limit | None) -> Decision:
        """Count the request; counters kept in the database are counted as requests work."""
        if not self.limiter.in_database:
            return self.limiter.check(key=key, klass=klass, limit=limit)
        async with primary_turn(_state(scope)):
            return await anyio.to_thread.run_sync(
                lambda: self.limiter.check(key=key, klass=klass, limit=limit)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path.endswith("/health"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("unknown", 0)
        authorization, api_key = headers.get("authorization"), headers.get("x-api-key")
        klass = route_class(scope["method"], path)
        credential = caller_credential(authorization=authorization, api_key=api_key)
        tenant, own = await self._tenant_limit(scope, credential, klass)
        # Only a credential the server issued earns its own budget; anything else (none, or
        # made up) counts against the address, so inventing tokens buys nothing.
        key = caller_key(credential=credential if tenant is not None else "", client=str(client[0]))
        try:
            decision = await self._check(scope, key=key, klass=klass, limit=own)
        except Exception:  # noqa: BLE001 - a lost counter store must not stop the shop
            log.warning("rate-limit store unavailable; letting %s through", path, exc_info=True)
            await self.app(scope, receive, send)
            return
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
        status: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in limit_headers.items()
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if (
            tenant is not None
            and self.tenants is not None
            and scope["method"] == "PUT"
            and path.endswith(_SETTING_PATH)
            and status[:1] == [200]
        ):
            self.tenants.forget(tenant)
