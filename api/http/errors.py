"""Service errors as HTTP answers: each refusal's status code and the error body every route
declares (``{detail, code, field}``). Services raise ``api.services.errors`` exceptions and know
nothing of status codes; the app's handlers and the pages ask ``status_of``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.services.errors import (
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    TooManyAttempts,
    Unauthorized,
)
from api.services.matching.nightly import NightlyFailed, RunInProgress

STATUS: dict[type[ServiceError], int] = {
    RunInProgress: 409,
    NightlyFailed: 500,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    BadInput: 422,
    Unauthorized: 401,
    TooManyAttempts: 429,
}


def status_of(error: ServiceError) -> int:
    """The status code of a refusal: its class's, or the nearest base class's (400 if none)."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


class ErrorOut(BaseModel):
    """Every refusal: a message for people (Chinese / English), a stable code for programs,
    and the input field at fault when there is one."""

    detail: str
    code: str = Field(description="e.g. not_found, forbidden, conflict, bad_input, invalid")
    field: str | None = None


class FieldProblem(BaseModel):
    field: str
    message: str


class InvalidOut(ErrorOut):
    """A request the API could not read (422): ``field`` names the first bad input, ``errors``
    lists them all. Refusals by the service (also 422) come without ``errors``."""

    errors: list[FieldProblem] = []
