"""Errors services raise; the HTTP edge and the command line turn each into an answer.

Messages are Chinese first, English second, as staff and volunteers read them."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses: a message for people, a stable ``code`` for programs and
    the input ``field`` at fault, if any. What it means in HTTP is the edge's business
    (``api.http.errors.status_of``)."""

    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    code = "not_found"


class Forbidden(ServiceError):
    code = "forbidden"


class Conflict(ServiceError):
    """The thing changed under the caller (already claimed, already answered, …)."""

    code = "conflict"


class BadInput(ServiceError):
    code = "bad_input"


class Unauthorized(ServiceError):
    code = "unauthorized"


class TooManyAttempts(ServiceError):
    """Too many failed attempts in a short time; the caller may try again after
    ``retry_after`` seconds (over HTTP: 429 with ``Retry-After``)."""

    code = "too_many_attempts"

    def __init__(self, message: str, field: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after
