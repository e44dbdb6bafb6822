"""Errors services raise; the app turns each into a JSON answer with a clear message.

Messages are Chinese first, English second, as staff and volunteers read them."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The thing changed under the caller (already claimed, already answered, …)."""

    status = 409
    code = "conflict"


class BadInput(ServiceError):
    status = 422
    code = "bad_input"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class TooManyAttempts(ServiceError):
    """Too many failed attempts in a short time; the caller may try again after
    ``retry_after`` seconds (the API answers 429 with ``Retry-After``)."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, field: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after
