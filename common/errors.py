"""The one error hierarchy: services raise these, each program turns them into its own form."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule said no; the message is written for the person who asked."""

    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError):
    status = 422
    type = "validation-error"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class InvalidState(Conflict):
    type = "invalid-state"
    title = "Not allowed in the current state"


class InsufficientStock(Conflict):
    type = "insufficient-stock"
    title = "Not enough stock"

    def __init__(self, detail: str, *, lines: list[dict[str, Any]]) -> None:
        super().__init__(detail, lines=lines)


class CreditLimitExceeded(Conflict):
    type = "credit-limit-exceeded"
    title = "Credit limit exceeded"


class AuthenticationFailed(DomainError):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(DomainError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class TooManyRequests(DomainError):
    status = 429
    type = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after
